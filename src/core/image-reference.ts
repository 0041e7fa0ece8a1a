/**
 * @module
 * OCI image references (`[registry[:port]/]path[:tag][@digest]`), any registry, following the
 * grammar of the distribution project's reference package. App Runner itself accepts only ECR
 * references; Berth accepts all, so the server checks the general grammar instead (§3.4).
 */

const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?`;
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*';
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';

const REFERENCE = new RegExp(
  `^(?:(${DOMAIN})/)?(${PATH_COMPONENT}(?:/${PATH_COMPONENT})*)(?::(${TAG}))?(?:@(${DIGEST}))?$`,
);

export interface ImageReference {
  registry?: string;
  repository: string;
  tag?: string;
  digest?: string;
}

export const IMAGE_REFERENCE_FORM = '[registry[:port]/]repository[:tag][@digest], repository in lower case';

/** Parses a reference; undefined when it is not a valid OCI reference. */
export function parseImageReference(value: string): ImageReference | undefined {
  const match = REFERENCE.exec(value);
  if (match === null) return undefined;
  const [, , , tag, digest] = match;
  let [, registry, repository] = match;
  if (repository === undefined) return undefined;
  // `a/b` is a registry only if it looks like a host: has a dot or a port, or is localhost.
  if (registry !== undefined && !/[.:[]/.test(registry) && registry !== 'localhost') {
    // Not a host, so it is the first path component, and those are lower case.
    if (registry !== registry.toLowerCase()) return undefined;
    repository = `${registry}/${repository}`;
    registry = undefined;
  }
  if ((registry ? registry.length + 1 : 0) + repository.length > 255) return undefined;
  return {
    repository,
    ...(registry !== undefined && { registry }),
    ...(tag !== undefined && { tag }),
    ...(digest !== undefined && { digest }),
  };
}
