/**
 * @module
 * App Runner's wire form for timestamps: JSON numbers, epoch seconds (app-runner-api.md §1.3).
 */

/** Epoch milliseconds to epoch seconds, fractional. */
export const epochSeconds = (ms: number): number => ms / 1000;
