import { Metrics } from '../metrics/metrics.js';
import type { PrimaryLink } from './primary-link.js';

/**
 * A worker's metrics. Every series carries a `worker` label, and `GET
 * /metrics` on any worker answers with every worker's series (gathered by
 * the primary): a scrape through the shared listener sees the whole server,
 * not whichever worker took the connection.
 */
export class WorkerMetrics extends Metrics {
  readonly #link: PrimaryLink;

  constructor(link: PrimaryLink) {
    super();
    this.#link = link;
    this.registry.setDefaultLabels({ worker: String(link.slot) });
    link.onCollect(() => super.text());
  }

  override text(): Promise<string> {
    return this.#link.request('metrics');
  }
}

/**
 * Merges Prometheus text expositions of the same metrics (one per worker,
 * series told apart by their `worker` label) into one: each family's HELP
 * and TYPE once, then every worker's samples of it.
 *
 * @example mergeExpositions(['# HELP a …\n# TYPE a counter\na{worker="1"} 3\n', '# HELP a …\n# TYPE a counter\na{worker="2"} 5\n'])
 */
export function mergeExpositions(texts: readonly string[]): string {
  const families = new Map<string, { head: string[]; samples: string[] }>();
  for (const text of texts) {
    let family: { head: string[]; samples: string[] } | null = null;
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const comment = /^# (HELP|TYPE) (\S+)/.exec(line);
      if (comment !== null) {
        const name = comment[2] as string;
        family = families.get(name) ?? null;
        if (family === null) {
          family = { head: [], samples: [] };
          families.set(name, family);
        }
        if (family.head.length < 2 && !family.head.some((h) => h.startsWith(`# ${comment[1]} `))) family.head.push(line);
        continue;
      }
      family?.samples.push(line);
    }
  }
  const out: string[] = [];
  for (const { head, samples } of families.values()) out.push(...head, ...samples);
  return `${out.join('\n')}\n`;
}
