/**
 * @module
 * The processes' log lines: `<time> <level> <component> <message>` on stderr. Only composition
 * roots log; the layers below report through events and diagnostics channels.
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';

const ORDER: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };
let threshold: Level = 'info';

export function setLogLevel(level: Level): void {
  threshold = level;
}

export function log(level: Level, component: string, message: string): void {
  if (ORDER[level] < ORDER[threshold]) return;
  process.stderr.write(`${new Date().toISOString()} ${level.padEnd(5)} ${component}: ${message}\n`);
}
