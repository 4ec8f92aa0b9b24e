import { spawn } from "node:child_process";

/**
 * Opens a URL in the user's browser, where there is one: `open` on macOS,
 * `start` on Windows, `xdg-open` on Linux with a display. Returns false when it
 * did not try (a headless machine), so the caller only prints the link. Never
 * throws and never waits for the browser.
 */
export function openBrowser(url: URL): boolean {
  const [command, args] =
    process.platform === "darwin"
      ? ["open", [url.href]]
      : process.platform === "win32"
        ? ["cmd", ["/c", "start", '""', url.href.replace(/&/g, "^&")]]
        : ["xdg-open", [url.href]];
  if (process.platform === "linux" && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) return false;
  try {
    const child = spawn(command, args, { stdio: "ignore", detached: true });
    child.on("error", () => {});
    child.unref();
    return true;
  } catch {
    return false;
  }
}
