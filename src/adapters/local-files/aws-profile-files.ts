/**
 * @module
 * Writes the AWS shared credentials and config files (profile `default`) under the data
 * directory, so the AWS CLI and SDKs reach Berth with only an endpoint override.
 */
import { writeFileSync, renameSync, chmodSync } from 'node:fs';

export function writeAwsProfileFiles(paths: { credentials: string; awsConfig: string }, key: { accessKeyId: string; secretAccessKey: string }, region: string): void {
  writeAtomically(paths.credentials, `[default]\naws_access_key_id = ${key.accessKeyId}\naws_secret_access_key = ${key.secretAccessKey}\n`, 0o600);
  writeAtomically(paths.awsConfig, `[default]\nregion = ${region}\n`, 0o644);
}

export function writeAtomically(path: string, content: string, mode: number): void {
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, content, { mode });
  chmodSync(temp, mode);
  renameSync(temp, path);
}
