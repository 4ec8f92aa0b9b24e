/**
 * The text of a (streamed) response as it arrives, until the server ends it
 * (`ended`) or `ms` pass (then the client leaves).
 */
export async function responseText(res: Response, ms: number): Promise<{ text: string; ended: boolean }> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = "";
  const deadline = Date.now() + ms;
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((r) => {
      timer = setTimeout(() => r("late"), Math.max(0, deadline - Date.now()));
    });
    const read = await Promise.race([reader.read().catch(() => ({ done: true as const })), late]);
    clearTimeout(timer);
    if (read === "late") {
      void reader.cancel().catch(() => {});
      return { text, ended: false };
    }
    if (read.done) return { text, ended: true };
    text += decoder.decode(read.value, { stream: true });
  }
}
