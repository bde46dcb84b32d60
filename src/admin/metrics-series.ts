/** 50 µs to 10 s. */
export const LATENCY_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

export type Inc = { inc(n?: number): void };
export type Obs = { observe(v: number): void };

export type Labels = Readonly<Record<string, string>>;

/** One series of a SeriesHistogram: plain numbers, no allocation per observation. */
export class HistogramSeries implements MetricSeries {
  readonly labels: Labels;
  /** Per bucket of LATENCY_BUCKETS (not cumulative); the last one is +Inf. */
  readonly counts = new Float64Array(LATENCY_BUCKETS.length + 1);
  sum = 0;
  count = 0;

  constructor(labels: Labels) {
    this.labels = labels;
  }

  observe(v: number): void {
    let i = 0;
    while (i < LATENCY_BUCKETS.length && v > LATENCY_BUCKETS[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

interface MetricSeries {
  readonly labels: Labels;
  reset(): void;
}

/**
 * A metric registered as a custom prom-client metric whose series are plain numbers read at
 * scrape time. The data path updates several per command; prom-client's label children hash
 * their labels on every call. Series never updated are not shown.
 */
abstract class SeriesMetric<S extends MetricSeries> {
  readonly aggregator = 'sum';
  abstract readonly type: string;
  readonly #series = new Map<string, S>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly create: (labels: Labels) => S,
  ) {}

  series(labels: Labels): S {
    const key = Object.values(labels).join('\0');
    let s = this.#series.get(key);
    if (!s) {
      s = this.create(labels);
      this.#series.set(key, s);
    }
    return s;
  }

  protected abstract values(s: S): object[];

  get(): { name: string; help: string; type: string; aggregator: string; values: object[] } {
    const values: object[] = [];
    for (const s of this.#series.values()) values.push(...this.values(s));
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    for (const s of this.#series.values()) s.reset();
  }
}

/** A histogram of LATENCY_BUCKETS. */
export class SeriesHistogram extends SeriesMetric<HistogramSeries> {
  readonly type = 'histogram';

  constructor(name: string, help: string) {
    super(name, help, (labels) => new HistogramSeries(labels));
  }

  protected values(s: HistogramSeries): object[] {
    if (s.count === 0) return [];
    const bucket = `${this.name}_bucket`;
    const values: object[] = [];
    let acc = 0;
    for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
      acc += s.counts[i]!;
      values.push({ metricName: bucket, labels: { le: LATENCY_BUCKETS[i]!, ...s.labels }, value: acc });
    }
    values.push({ metricName: bucket, labels: { le: '+Inf', ...s.labels }, value: s.count });
    values.push({ metricName: `${this.name}_sum`, labels: s.labels, value: s.sum });
    values.push({ metricName: `${this.name}_count`, labels: s.labels, value: s.count });
    return values;
  }
}

/** One series of a SeriesCounter. */
export class CounterSeries implements MetricSeries {
  value = 0;
  touched = false;
  constructor(readonly labels: Labels) {}

  inc(n = 1): void {
    this.value += n;
    this.touched = true;
  }

  reset(): void {
    this.value = 0;
    this.touched = false;
  }
}

export class SeriesCounter extends SeriesMetric<CounterSeries> {
  readonly type = 'counter';

  constructor(name: string, help: string) {
    super(name, help, (labels) => new CounterSeries(labels));
  }

  protected values(s: CounterSeries): object[] {
    return s.touched ? [{ labels: s.labels, value: s.value }] : [];
  }
}
