/**
 * @module
 * Per-service settings App Runner does not have (Berth extensions, set with
 * `Berth.UpdateServiceSettings`): the request timeout (App Runner's is a fixed 120 s), an idle
 * timeout for long-lived streams, the startup limit (App Runner's fixed 5 minutes), the
 * ephemeral storage limit (App Runner's fixed 3 GB) and how long a service whose MinSize is 0
 * goes without requests before it scales to zero (App Runner never does). A member left unset
 * takes the installation's default from the configuration file.
 */
import { invalidRequest } from './errors.ts';

export interface ServiceSettings {
  /** From a request's arrival to its last response byte: 1 s to 3600 s. */
  requestTimeoutSeconds: number;
  /** No bytes either way for this long ends a request or stream: 1 s to 3600 s. */
  idleTimeoutSeconds: number;
  /** How long a deployment's instances get to pass their health checks: 10 s to 3600 s. */
  startupTimeoutSeconds: number;
  /** What an instance may write outside its image before it is replaced: 64 MiB to 100 GiB. */
  ephemeralStorageMb: number;
  /**
   * With MinSize 0: no request for this long scales the service to zero instances: 1 s to 24 h.
   * Without effect when MinSize is 1 or more.
   */
  scaleToZeroIdleSeconds: number;
}

export const SETTING_LIMITS: Readonly<Record<keyof ServiceSettings, { min: number; max: number }>> = {
  requestTimeoutSeconds: { min: 1, max: 3600 },
  idleTimeoutSeconds: { min: 1, max: 3600 },
  startupTimeoutSeconds: { min: 10, max: 3600 },
  ephemeralStorageMb: { min: 64, max: 102_400 },
  scaleToZeroIdleSeconds: { min: 1, max: 86_400 },
};

/** The settings in force: the service's own over the installation's defaults. */
export function effectiveSettings(own: Partial<ServiceSettings> | undefined, defaults: ServiceSettings): ServiceSettings {
  return { ...defaults, ...own };
}

/** Every setting, in the order the API and the CLI list them. */
export const SETTING_NAMES: readonly (keyof ServiceSettings)[] = [
  'requestTimeoutSeconds',
  'idleTimeoutSeconds',
  'startupTimeoutSeconds',
  'ephemeralStorageMb',
  'scaleToZeroIdleSeconds',
];

/** Each setting's member in the API: `Berth.UpdateServiceSettings`'s input and every `Settings` output. */
export const SETTING_MEMBERS: Readonly<Record<keyof ServiceSettings, string>> = {
  requestTimeoutSeconds: 'RequestTimeoutSeconds',
  idleTimeoutSeconds: 'IdleTimeoutSeconds',
  startupTimeoutSeconds: 'StartupTimeoutSeconds',
  ephemeralStorageMb: 'EphemeralStorageMb',
  scaleToZeroIdleSeconds: 'ScaleToZeroIdleSeconds',
};

/** Settings as the API returns them: `{RequestTimeoutSeconds, IdleTimeoutSeconds, …}`. */
export function settingsOutput(settings: ServiceSettings): Record<string, number> {
  return Object.fromEntries(SETTING_NAMES.map((name) => [SETTING_MEMBERS[name], settings[name]]));
}

/**
 * What an update asks for, from an input whose shape is already checked: a number sets a
 * setting, `null` returns it to the installation's default (unlike App Runner's members, where
 * null means absent: here it is the only way to say "default"), an absent member stays as it is.
 * An update that names no setting is refused.
 */
export function settingsUpdateOf(input: Readonly<Record<string, unknown>>): Partial<Record<keyof ServiceSettings, number | null>> {
  const update: Partial<Record<keyof ServiceSettings, number | null>> = {};
  for (const name of SETTING_NAMES) {
    const value = input[SETTING_MEMBERS[name]];
    if (value === null || typeof value === 'number') update[name] = value;
  }
  if (Object.keys(update).length === 0) {
    throw invalidRequest(
      `No setting to change: give at least one of ${SETTING_NAMES.map((n) => SETTING_MEMBERS[n]).join(', ')} ` +
        '(a whole number sets it, null returns it to the installation default); DescribeServiceSettings shows the current ones',
    );
  }
  return update;
}

/** A service's own settings with `update` applied; undefined when none is left (all defaults). */
export function applySettingsUpdate(
  own: Partial<ServiceSettings> | undefined,
  update: Partial<Record<keyof ServiceSettings, number | null>>,
): Partial<ServiceSettings> | undefined {
  const next: Partial<ServiceSettings> = { ...own };
  for (const name of SETTING_NAMES) {
    const value = update[name];
    if (value === null) delete next[name];
    else if (value !== undefined) next[name] = value;
  }
  return Object.keys(next).length === 0 ? undefined : next;
}
