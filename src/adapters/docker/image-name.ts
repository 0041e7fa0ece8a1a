/**
 * @module
 * Image references in the form the Engine API's image calls want: the repository (registry
 * included) apart from the tag or digest. The split matters because `POST /images/create` with
 * an empty `tag` pulls every tag of the repository, so "no tag" must become `latest` here.
 */
import { IMAGE_REFERENCE_FORM, parseImageReference } from '../../core/image-reference.ts';

export interface EngineImageName {
  /** Registry and path, as in `127.0.0.1:5000/team/app`. */
  repository: string;
  tag: string | undefined;
  digest: string | undefined;
  /** What `fromImage`'s companion `tag` parameter takes: the digest when there is one, else the tag. */
  apiTag: string;
  /** The reference with its implicit `:latest` spelled out: what to inspect or run. */
  reference: string;
}

/** A full image id as the engine gives it (`sha256:` and 64 hex digits): names one image on one engine, never pulled. */
const IMAGE_ID = /^sha256:[0-9a-f]{64}$/;

export function isImageId(value: string): boolean {
  return IMAGE_ID.test(value);
}

/** Splits a reference; a reference with neither tag nor digest means `:latest`. Throws on invalid ones. */
export function engineImageName(value: string): EngineImageName {
  const parsed = parseImageReference(value);
  if (parsed === undefined) {
    throw new Error(`Image reference ${JSON.stringify(value)} is not valid: expected ${IMAGE_REFERENCE_FORM}`);
  }
  const repository = parsed.registry === undefined ? parsed.repository : `${parsed.registry}/${parsed.repository}`;
  // With a digest the engine pulls by digest and ignores a tag, as the docker CLI does.
  if (parsed.digest !== undefined) {
    return { repository, tag: parsed.tag, digest: parsed.digest, apiTag: parsed.digest, reference: `${repository}@${parsed.digest}` };
  }
  const tag = parsed.tag ?? 'latest';
  return { repository, tag, digest: undefined, apiTag: tag, reference: `${repository}:${tag}` };
}
