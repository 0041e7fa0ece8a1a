/**
 * @module
 * Custom domains (app-runner-api.md §2.5, §3.13): the names a service answers to besides its
 * own host, what makes one acceptable, and the certificate validation records App Runner shows
 * for each. Certificates are not issued yet, so an association stays at
 * PENDING_CERTIFICATE_DNS_VALIDATION with its records PENDING_VALIDATION.
 */
import { createHash } from 'node:crypto';
import { invalidRequest, showValue, type BerthError } from './errors.ts';
import type { ResourceRecord } from './resources.ts';
import type { ServiceRecord } from './service.ts';
import type { Store } from './store.ts';

export type CustomDomainStatus =
  | 'CREATING'
  | 'CREATE_FAILED'
  | 'ACTIVE'
  | 'DELETING'
  | 'DELETE_FAILED'
  | 'PENDING_CERTIFICATE_DNS_VALIDATION'
  | 'BINDING_CERTIFICATE';

export interface CertificateValidationRecord {
  Name: string;
  Type: 'CNAME';
  Value: string;
  Status: 'PENDING_VALIDATION' | 'SUCCESS' | 'FAILED';
}

export interface CustomDomainData {
  serviceArn: string;
  /** Lower-cased: DNS names compare without case. */
  domain: string;
  enableWWW: boolean;
  status: CustomDomainStatus;
  validationRecords: CertificateValidationRecord[];
  createdAt: number;
}

export type CustomDomainRecord = ResourceRecord<CustomDomainData>;

/** Where validation CNAMEs point: a reserved name (RFC 2606) until Berth issues certificates. */
export const VALIDATION_TARGET_DOMAIN = 'validations.berth.invalid';

// RFC 1035 §2.3.4 limits a name to 255 octets on the wire, which is 253 characters as text.
const MAX_NAME_LENGTH = 253;
const MAX_LABEL_LENGTH = 63;

export function customDomainKey(serviceArn: string, domain: string): string {
  return `${serviceArn}#${domain.toLowerCase()}`;
}

export interface DomainName {
  /** Lower-cased. */
  name: string;
  /** `*.example.com`: every name one label below `example.com`. */
  wildcard: boolean;
}

/**
 * Checks that `value` (already shape-valid) is a DNS name a custom domain can have: an apex
 * (`example.com`), a subdomain (`a.b.example.com`) or a wildcard (`*.example.com`), and not a
 * name under `serviceDomain`, which Berth itself hands out to services.
 */
export function parseDomainName(value: string, serviceDomain: string, path: string): DomainName {
  const bad = (why: string): BerthError => invalidRequest(`Value ${showValue(value)} at '${path}' is not a valid custom domain: ${why}`);
  const name = value.toLowerCase();
  if (name.endsWith('.') && name.length > 1) throw bad("it ends with a dot; leave out the trailing dot ('example.com', not 'example.com.')");
  if (name.length > MAX_NAME_LENGTH) throw bad(`it is ${name.length} characters long; a DNS name has at most ${MAX_NAME_LENGTH}`);
  const labels = name.split('.');
  labels.forEach((label, i) => {
    if (label === '') throw bad('it has an empty label (a leading dot or two dots in a row)');
    if (label.includes('*') && (label !== '*' || i !== 0)) throw bad("'*' may only be the whole first label, as in '*.example.com'");
    if (label.length > MAX_LABEL_LENGTH) throw bad(`its label ${showValue(label)} is ${label.length} characters long; a label has at most ${MAX_LABEL_LENGTH}`);
    if (label !== '*' && (label.startsWith('-') || label.endsWith('-'))) throw bad(`its label ${showValue(label)} starts or ends with '-'; labels start and end with a letter or digit`);
  });
  const wildcard = labels[0] === '*';
  const base = wildcard ? labels.slice(1) : labels;
  if (base.length < 2) throw bad(`a custom domain has at least two labels below any '*', such as 'example.com' or '*.example.com'`);
  if (/^[0-9]+$/.test(base.at(-1) ?? '')) throw bad('it looks like an IP address; a custom domain is a DNS name');
  const baseName = base.join('.');
  if (baseName === serviceDomain || baseName.endsWith(`.${serviceDomain}`)) {
    throw bad(`it is under ${showValue(serviceDomain)}, the domain Berth gives services their own hosts in; associate a domain you own`);
  }
  return { name, wildcard };
}

/**
 * Whether the association also serves `www.<domain>`: by default yes (App Runner's default),
 * except for a wildcard, whose `*` already covers `www` (there is no `www.*.example.com`).
 */
export function resolveEnableWWW(domain: DomainName, given: boolean | undefined, path: string): boolean {
  if (domain.wildcard) {
    if (given === true) {
      throw invalidRequest(`Value 'true' at '${path}' cannot be used with the wildcard domain ${showValue(domain.name)}: its '*' already covers www; leave it out or set it to false`);
    }
    return false;
  }
  const enable = given ?? true;
  if (enable && domain.name.length + 4 > MAX_NAME_LENGTH) {
    throw invalidRequest(`The name 'www.${domain.name}' would be longer than ${MAX_NAME_LENGTH} characters; set '${path}' to false or use a shorter domain`);
  }
  return enable;
}

/** The host names an association serves: the domain and, when enabled, its `www` subdomain. */
export function hostNames(domain: string, enableWWW: boolean): string[] {
  return enableWWW ? [domain, `www.${domain}`] : [domain];
}

/**
 * The CNAMEs that prove control of each host name, one per name as ACM asks (a wildcard's is
 * on its base name). Derived from the service and name so the same association always shows the
 * same records.
 */
export function validationRecords(serviceArn: string, domain: DomainName, enableWWW: boolean): CertificateValidationRecord[] {
  return hostNames(domain.name, enableWWW).map((host) => {
    const owner = domain.wildcard && host === domain.name ? host.slice(2) : host;
    return {
      Name: `_${digest('name', serviceArn, host)}.${owner}.`,
      Type: 'CNAME',
      Value: `_${digest('value', serviceArn, host)}.${VALIDATION_TARGET_DOMAIN}.`,
      Status: 'PENDING_VALIDATION',
    };
  });
}

function digest(role: string, serviceArn: string, host: string): string {
  return createHash('sha256').update(`${role}\n${serviceArn}\n${host}`).digest('hex').slice(0, 32);
}

/**
 * Every custom domain of a live service. A deleted service's domains are left out: deleting a
 * service does not remove its domain records, and its names must be free to associate again.
 */
export function liveCustomDomains(store: Store): CustomDomainRecord[] {
  const live = new Set(store.listLiveServices().map((s) => s.arn));
  return (store.listResources('customdomain') as CustomDomainRecord[]).filter((r) => live.has(r.data.serviceArn));
}

/** A service's custom domains, oldest first; none once the service is DELETED. */
export function customDomainsOf(store: Store, service: ServiceRecord): CustomDomainRecord[] {
  if (service.status === 'DELETED') return [];
  return (store.listResources('customdomain') as CustomDomainRecord[]).filter((r) => r.data.serviceArn === service.arn);
}

/** `CustomDomain` (§3.13). */
export function customDomainOutput(record: CustomDomainRecord, status: CustomDomainStatus = record.data.status): Record<string, unknown> {
  const d = record.data;
  return {
    DomainName: d.domain,
    EnableWWWSubdomain: d.enableWWW,
    CertificateValidationRecords: d.validationRecords,
    Status: status,
  };
}

/** The members every custom domain operation returns besides its domains. */
export function customDomainTargets(service: ServiceRecord): { DNSTarget: string; ServiceArn: string; VpcDNSTargets: never[] } {
  // VpcDNSTargets is required in the output; Berth services are public, so it is empty (§2.5).
  return { DNSTarget: service.urlHost, ServiceArn: service.arn, VpcDNSTargets: [] };
}
