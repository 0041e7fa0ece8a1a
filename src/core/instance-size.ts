/**
 * @module
 * CPU and memory sizes (app-runner-api.md §3.6): both the numeric form (`1024`) and the unit
 * form (`1 vCPU`, `2 GB`) are accepted; responses always use the numeric form.
 */

const CPU_PATTERN = /^(256|512|1024|2048|4096|(0\.25|0\.5|1|2|4) vCPU)$/;
const MEMORY_PATTERN = /^(512|1024|2048|3072|4096|6144|8192|10240|12288|(0\.5|1|2|3|4|6|8|10|12) GB)$/;

/** Memory sizes (MiB) allowed with each CPU size (units). */
export const VALID_COMBINATIONS: ReadonlyMap<number, readonly number[]> = new Map([
  [256, [512, 1024]],
  [512, [1024]],
  [1024, [2048, 3072, 4096]],
  [2048, [4096, 6144]],
  [4096, [8192, 10240, 12288]],
]);

export const CPU_PATTERN_SOURCE = CPU_PATTERN.source;
export const MEMORY_PATTERN_SOURCE = MEMORY_PATTERN.source;

/** `1024` or `1 vCPU` → 1024; undefined when the value does not match the model's pattern. */
export function parseCpu(value: string): number | undefined {
  if (!CPU_PATTERN.test(value)) return undefined;
  return value.endsWith(' vCPU') ? Math.round(Number(value.slice(0, -5)) * 1024) : Number(value);
}

/** `2048` or `2 GB` → 2048; undefined when the value does not match the model's pattern. */
export function parseMemory(value: string): number | undefined {
  if (!MEMORY_PATTERN.test(value)) return undefined;
  return value.endsWith(' GB') ? Math.round(Number(value.slice(0, -3)) * 1024) : Number(value);
}

export function describeCombinations(): string {
  return [...VALID_COMBINATIONS]
    .map(([cpu, mems]) => `${cpu / 1024} vCPU with ${mems.map((m) => `${m / 1024} GB`).join(' or ')}`)
    .join('; ');
}
