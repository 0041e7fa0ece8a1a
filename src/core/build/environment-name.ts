/**
 * @module
 * The rules for the names of environment variables a service sets (apprunner.yaml `build.env`,
 * `run.env`, `run.secrets`, `run.network.env`, and the API's environment maps).
 */

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** What is wrong with `name` as an environment variable name, or undefined when it is fine. */
export function environmentNameProblem(name: string): string | undefined {
  if (!NAME.test(name)) {
    return `'${name}' is not a valid environment variable name: use letters, digits and '_', not starting with a digit (pattern [A-Za-z_][A-Za-z0-9_]*)`;
  }
  // App Runner sets PORT itself and keeps the AWSAPPRUNNER prefix for its own variables.
  if (name === 'PORT') return `'PORT' is reserved: App Runner sets it to the service's port; choose another name`;
  if (name.toUpperCase().startsWith('AWSAPPRUNNER')) {
    return `'${name}' is reserved: names starting with AWSAPPRUNNER belong to App Runner; choose another name`;
  }
  return undefined;
}
