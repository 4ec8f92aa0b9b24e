import type { Registry } from "prom-client";

/**
 * Counters and histograms for the request path, cheaper than prom-client's own.
 *
 * prom-client finds a series by hashing and validating its labels object on
 * every `inc`/`observe` (about 1 µs for a histogram of three labels, measured
 * in the gateway under load). Here a series is found through one map per
 * label, keyed by the label values themselves, and a histogram observation is
 * a bucket search and three additions. The registry still formats them: each
 * family is a metric of prom-client's registry contract (`name`, `help`,
 * `type`, `get()` with samples as its own metrics return), so the exposition
 * format stays prom-client's. `test/observe/metrics.test.ts` reads the output.
 */

/** One sample as prom-client's registry formats it. */
interface Sample {
  readonly labels: { readonly [name: string]: string | number };
  readonly value: number;
  readonly metricName?: string;
}

/** Series by three label values, made on first use. Label values must be bounded by the caller. */
class Family<T> {
  private readonly root = new Map<string, Map<string, Map<string, T>>>();

  constructor(private readonly make: () => T) {}

  at(a: string, b: string, c: string): T {
    let level1 = this.root.get(a);
    if (!level1) {
      level1 = new Map();
      this.root.set(a, level1);
    }
    let level2 = level1.get(b);
    if (!level2) {
      level2 = new Map();
      level1.set(b, level2);
    }
    let series = level2.get(c);
    if (series === undefined) {
      series = this.make();
      level2.set(c, series);
    }
    return series;
  }

  *entries(): Generator<[string, string, string, T]> {
    for (const [a, level1] of this.root)
      for (const [b, level2] of level1) for (const [c, series] of level2) yield [a, b, c, series];
  }

  clear(): void {
    this.root.clear();
  }
}

/** What every family shares: the registry contract. */
abstract class Metric {
  readonly aggregator = "sum";
  abstract readonly type: "counter" | "histogram";

  constructor(
    readonly name: string,
    readonly help: string,
    protected readonly labelNames: readonly [string, string, string],
    registry: Registry,
  ) {
    // prom-client's registry takes any metric that has a name and answers get().
    registry.registerMetric(this as unknown as Parameters<Registry["registerMetric"]>[0]);
  }

  protected labels(a: string, b: string, c: string): { [name: string]: string } {
    const [x, y, z] = this.labelNames;
    return { [x]: a, [y]: b, [z]: c };
  }

  abstract get(): Promise<{ name: string; help: string; type: string; values: Sample[]; aggregator: string }>;
  abstract reset(): void;
}

/** A counter with three labels. */
export class Counter3 extends Metric {
  readonly type = "counter";
  private readonly series = new Family<{ value: number }>(() => ({ value: 0 }));

  inc(a: string, b: string, c: string): void {
    this.series.at(a, b, c).value++;
  }

  async get() {
    const values: Sample[] = [];
    for (const [a, b, c, s] of this.series.entries())
      values.push({ labels: this.labels(a, b, c), value: s.value });
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    this.series.clear();
  }
}

/** One histogram series: counts per bucket (not cumulative; the last is +Inf), sum and count. */
interface HistogramSeries {
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/** A histogram with three labels and fixed buckets (upper bounds, ascending). */
export class Histogram3 extends Metric {
  readonly type = "histogram";
  private readonly series: Family<HistogramSeries>;

  constructor(
    name: string,
    help: string,
    labelNames: readonly [string, string, string],
    private readonly buckets: readonly number[],
    registry: Registry,
  ) {
    super(name, help, labelNames, registry);
    this.series = new Family(() => ({ counts: new Float64Array(buckets.length + 1), sum: 0, count: 0 }));
  }

  observe(a: string, b: string, c: string, value: number): void {
    const s = this.series.at(a, b, c);
    const bounds = this.buckets;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    s.counts[i] = (s.counts[i] as number) + 1;
    s.sum += value;
    s.count++;
  }

  async get() {
    const values: Sample[] = [];
    for (const [a, b, c, s] of this.series.entries()) {
      const labels = this.labels(a, b, c);
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += s.counts[i] as number;
        values.push({ labels: { ...labels, le }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { ...labels, le: "+Inf" }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    this.series.clear();
  }
}
