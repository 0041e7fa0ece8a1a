/**
 * Invalid requests of the custom domain operations (AssociateCustomDomain,
 * DescribeCustomDomains, DisassociateCustomDomain), against one RUNNING service that already
 * has as many domains as the per-service quota (5) allows.
 */
import type { CaseFamily, Fixtures } from './types.ts';

const account = (arn: string | undefined): string => arn?.split(':')[4] ?? '000000000000';
const serviceArn = (f: Fixtures, tail: string): string => `arn:aws:apprunner:us-east-1:${account(f.domServiceArn)}:service/${tail}`;
const associate = (f: Fixtures, DomainName: unknown, extra: Record<string, unknown> = {}): unknown => ({ ServiceArn: f.domServiceArn, DomainName, ...extra });
/** Labels of 63 characters joined to `labels` of them. */
const longName = (labels: number, last = 'example.com'): string => [...Array.from({ length: labels }, () => 'd'.repeat(63)), last].join('.');

/** A NextToken in the form of Berth's own, but of another listing. */
const FOREIGN_TOKEN = Buffer.from(JSON.stringify({ s: 'dom-other-scope', k: 'dom-a.example.com' })).toString('base64url');

export const family: CaseFamily = {
  name: 'custom domains',
  async setup(api) {
    const created = await api.call('CreateService', {
      ServiceName: 'dom-service',
      SourceConfiguration: { ImageRepository: { ImageIdentifier: 'registry.example.com/dom/app:1', ImageRepositoryType: 'ECR', ImageConfiguration: { Port: '8080' } } },
    });
    const domServiceArn = String((created.Service as { ServiceArn: string }).ServiceArn);
    // Associating needs a RUNNING service.
    await api.settle();
    await api.call('AssociateCustomDomain', { ServiceArn: domServiceArn, DomainName: 'dom-taken.example.com' });
    for (const name of ['dom-a.example.com', 'dom-b.example.com', '*.dom-c.example.com', 'dom-d.example.com']) {
      await api.call('AssociateCustomDomain', { ServiceArn: domServiceArn, DomainName: name, EnableWWWSubdomain: false });
    }
    return { domServiceArn };
  },
  cases: [
    // AssociateCustomDomain: shape
    { name: 'no ServiceArn', operation: 'AssociateCustomDomain', body: () => ({ DomainName: 'dom-new.example.com' }), error: 'InvalidRequestException', message: /Value null at 'serviceArn' failed to satisfy constraint: Member must not be null/ },
    { name: 'no DomainName', operation: 'AssociateCustomDomain', body: (f) => ({ ServiceArn: f.domServiceArn }), error: 'InvalidRequestException', message: /Value null at 'domainName' failed to satisfy constraint: Member must not be null/ },
    { name: 'an empty DomainName', operation: 'AssociateCustomDomain', body: (f) => associate(f, ''), error: 'InvalidRequestException', message: /at 'domainName' failed to satisfy constraint: Member must have length greater than or equal to 1/ },
    { name: 'a DomainName of 256 characters', operation: 'AssociateCustomDomain', body: (f) => associate(f, `dom${'x'.repeat(253)}`), error: 'InvalidRequestException', message: /at 'domainName' failed to satisfy constraint: Member must have length less than or equal to 255/ },
    { name: 'a DomainName with an underscore', operation: 'AssociateCustomDomain', body: (f) => associate(f, 'dom_new.example.com'), error: 'InvalidRequestException', message: /Value 'dom_new.example.com' at 'domainName' failed to satisfy constraint: Member must satisfy regular expression pattern: \[A-Za-z0-9\*\.-\]\{1,255\}/ },
    { name: 'a DomainName with a scheme', operation: 'AssociateCustomDomain', body: (f) => associate(f, 'https://dom.example.com'), error: 'InvalidRequestException', message: /Value 'https:\/\/dom.example.com' at 'domainName'.*regular expression pattern/ },
    { name: 'a DomainName that is a number', operation: 'AssociateCustomDomain', body: (f) => associate(f, 404), error: 'InvalidRequestException', message: /Value 404 at 'domainName' must be a string/ },
    { name: 'EnableWWWSubdomain as a string', operation: 'AssociateCustomDomain', body: (f) => associate(f, 'dom-new.example.com', { EnableWWWSubdomain: 'yes' }), error: 'InvalidRequestException', message: /Value "yes" at 'enableWWWSubdomain' must be a boolean/ },
    { name: 'an unknown member', operation: 'AssociateCustomDomain', body: (f) => associate(f, 'dom-new.example.com', { CertificateArn: 'arn:aws:acm:x' }), error: 'InvalidRequestException', message: /Unknown member 'certificateArn'; expected one of: ServiceArn, DomainName, EnableWWWSubdomain/ },
    { name: 'a ServiceArn that is no ARN', operation: 'AssociateCustomDomain', body: () => ({ ServiceArn: 'dom-service', DomainName: 'dom-new.example.com' }), error: 'InvalidRequestException', message: /Value 'dom-service' at 'serviceArn'.*regular expression pattern/ },

    // AssociateCustomDomain: DNS names
    { name: 'an empty label', operation: 'AssociateCustomDomain', body: (f) => associate(f, 'dom..example.com'), error: 'InvalidRequestException', message: /Value 'dom..example.com' at 'domainName' is not a valid custom domain: it has an empty label/ },
    { name: 'a leading dot', operation: 'AssociateCustomDomain', body: (f) => associate(f, '.dom.example.com'), error: 'InvalidRequestException', message: /'\.dom\.example\.com' at 'domainName' is not a valid custom domain: it has an empty label/ },
    { name: 'a trailing dot', operation: 'AssociateCustomDomain', body: (f) => associate(f, 'dom.example.com.'), error: 'InvalidRequestException', message: /it ends with a dot; leave out the trailing dot/ },
    { name: 'a wildcard below the first label', operation: 'AssociateCustomDomain', body: (f) => associate(f, 'dom.*.example.com'), error: 'InvalidRequestException', message: /'\*' may only be the whole first label, as in '\*\.example\.com'/ },
    { name: 'a wildcard inside a label', operation: 'AssociateCustomDomain', body: (f) => associate(f, 'dom*.example.com'), error: 'InvalidRequestException', message: /'dom\*\.example\.com' at 'domainName' is not a valid custom domain: '\*' may only be the whole first label/ },
    { name: 'two wildcards', operation: 'AssociateCustomDomain', body: (f) => associate(f, '*.*.dom.example.com'), error: 'InvalidRequestException', message: /'\*' may only be the whole first label/ },
    { name: 'a label of 64 characters', operation: 'AssociateCustomDomain', body: (f) => associate(f, `${'d'.repeat(64)}.example.com`), error: 'InvalidRequestException', message: /its label 'd{64}' is 64 characters long; a label has at most 63/ },
    { name: 'a name of 254 characters', operation: 'AssociateCustomDomain', body: (f) => associate(f, longName(3, `${'e'.repeat(50)}.example.com`)), error: 'InvalidRequestException', message: /it is 254 characters long; a DNS name has at most 253/ },
    { name: 'a label ending with a hyphen', operation: 'AssociateCustomDomain', body: (f) => associate(f, 'dom-.example.com'), error: 'InvalidRequestException', message: /its label 'dom-' starts or ends with '-'; labels start and end with a letter or digit/ },
    { name: 'a label starting with a hyphen', operation: 'AssociateCustomDomain', body: (f) => associate(f, '-dom.example.com'), error: 'InvalidRequestException', message: /its label '-dom' starts or ends with '-'/ },
    { name: 'a single label', operation: 'AssociateCustomDomain', body: (f) => associate(f, 'domhost'), error: 'InvalidRequestException', message: /a custom domain has at least two labels below any '\*', such as 'example\.com'/ },
    { name: 'a wildcard over a top-level domain', operation: 'AssociateCustomDomain', body: (f) => associate(f, '*.com'), error: 'InvalidRequestException', message: /'\*\.com' at 'domainName' is not a valid custom domain: a custom domain has at least two labels/ },
    { name: 'an IPv4 address', operation: 'AssociateCustomDomain', body: (f) => associate(f, '192.0.2.10'), error: 'InvalidRequestException', message: /'192\.0\.2\.10' at 'domainName' is not a valid custom domain: it looks like an IP address/ },
    { name: "a name under Berth's own service domain", operation: 'AssociateCustomDomain', body: (f) => associate(f, 'dom-app.localhost'), error: 'InvalidRequestException', message: /it is under 'localhost', the domain Berth gives services their own hosts in; associate a domain you own/ },
    { name: "a wildcard under Berth's own service domain", operation: 'AssociateCustomDomain', body: (f) => associate(f, '*.dom.LOCALHOST'), error: 'InvalidRequestException', message: /'\*\.dom\.LOCALHOST' at 'domainName'.*under 'localhost'/ },
    { name: 'www asked for on a wildcard', operation: 'AssociateCustomDomain', body: (f) => associate(f, '*.dom-new.example.com', { EnableWWWSubdomain: true }), error: 'InvalidRequestException', message: /Value 'true' at 'enableWWWSubdomain' cannot be used with the wildcard domain '\*\.dom-new\.example\.com'/ },
    { name: 'a name too long once www is added', operation: 'AssociateCustomDomain', body: (f) => associate(f, longName(3, `${'e'.repeat(49)}.example.com`)), error: 'InvalidRequestException', message: /The name 'www\.d+.*' would be longer than 253 characters; set 'enableWWWSubdomain' to false/ },

    // AssociateCustomDomain: the service and the names already taken
    { name: 'the ARN of a connection', operation: 'AssociateCustomDomain', body: (f) => ({ ServiceArn: `arn:aws:apprunner:us-east-1:${account(f.domServiceArn)}:connection/dom-conn/0123456789abcdef0123456789abcdef`, DomainName: 'dom-new.example.com' }), error: 'InvalidRequestException', message: /at 'serviceArn' is not a service ARN; expected arn:aws:apprunner:<region>:<account>:service\/<name>\/<id>/ },
    { name: 'a service that does not exist', operation: 'AssociateCustomDomain', body: (f) => ({ ServiceArn: serviceArn(f, 'dom-ghost/0123456789abcdef0123456789abcdef'), DomainName: 'dom-new.example.com' }), error: 'ResourceNotFoundException', message: /No service with ARN '.*dom-ghost.*' exists in account [0-9]{12}, region us-east-1/ },
    { name: 'a name already associated', operation: 'AssociateCustomDomain', body: (f) => associate(f, 'dom-taken.example.com'), error: 'InvalidRequestException', message: /The name 'dom-taken\.example\.com' is already served by the custom domain 'dom-taken\.example\.com' of this service/ },
    { name: 'a name already associated, in other case', operation: 'AssociateCustomDomain', body: (f) => associate(f, 'DOM-TAKEN.Example.com', { EnableWWWSubdomain: false }), error: 'InvalidRequestException', message: /'dom-taken\.example\.com' is already served/ },
    { name: 'the www name of an associated domain', operation: 'AssociateCustomDomain', body: (f) => associate(f, 'www.dom-taken.example.com', { EnableWWWSubdomain: false }), error: 'InvalidRequestException', message: /The name 'www\.dom-taken\.example\.com' is already served by the custom domain 'dom-taken\.example\.com'/ },
    { name: 'a sixth domain (quota 5 per service)', operation: 'AssociateCustomDomain', body: (f) => associate(f, 'dom-new.example.com'), error: 'ServiceQuotaExceededException', status: 402, message: /Service 'dom-service' has reached the quota of 5 custom domains per service/ },

    // DescribeCustomDomains
    { name: 'no ServiceArn', operation: 'DescribeCustomDomains', body: () => ({}), error: 'InvalidRequestException', message: /Value null at 'serviceArn' failed to satisfy constraint: Member must not be null/ },
    { name: 'MaxResults 0', operation: 'DescribeCustomDomains', body: (f) => ({ ServiceArn: f.domServiceArn, MaxResults: 0 }), error: 'InvalidRequestException', message: /Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1/ },
    { name: 'MaxResults 6', operation: 'DescribeCustomDomains', body: (f) => ({ ServiceArn: f.domServiceArn, MaxResults: 6 }), error: 'InvalidRequestException', message: /Value '6' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 5/ },
    { name: 'MaxResults 1.5', operation: 'DescribeCustomDomains', body: (f) => ({ ServiceArn: f.domServiceArn, MaxResults: 1.5 }), error: 'InvalidRequestException', message: /Value 1.5 at 'maxResults' must be an integer/ },
    { name: 'a NextToken of 51201 characters', operation: 'DescribeCustomDomains', body: (f) => ({ ServiceArn: f.domServiceArn, NextToken: 'd'.repeat(51201) }), error: 'InvalidRequestException', message: /at 'nextToken' failed to satisfy constraint: Member must have length less than or equal to 51200/ },
    { name: 'a NextToken that is no token', operation: 'DescribeCustomDomains', body: (f) => ({ ServiceArn: f.domServiceArn, NextToken: 'dom-garbage' }), error: 'InvalidRequestException', message: /The NextToken 'dom-garbage' is invalid; pass the NextToken of the previous page unchanged/ },
    { name: 'a NextToken of another listing', operation: 'DescribeCustomDomains', body: (f) => ({ ServiceArn: f.domServiceArn, NextToken: FOREIGN_TOKEN }), error: 'InvalidRequestException', message: /does not belong to this listing; keep the other parameters the same across pages/ },
    { name: 'a service that does not exist', operation: 'DescribeCustomDomains', body: (f) => ({ ServiceArn: serviceArn(f, 'dom-ghost/0123456789abcdef0123456789abcdef') }), error: 'ResourceNotFoundException', message: /No service with ARN '.*dom-ghost.*' exists/ },
    { name: 'a service ARN of another account', operation: 'DescribeCustomDomains', body: (f) => ({ ServiceArn: String(f.domServiceArn).replace(/:[0-9]{12}:/, ':999999999999:') }), error: 'ResourceNotFoundException', message: /No service with ARN '.*999999999999.*' exists in account/ },
    { name: 'an unknown member', operation: 'DescribeCustomDomains', body: (f) => ({ ServiceArn: f.domServiceArn, DomainName: 'dom-a.example.com' }), error: 'InvalidRequestException', message: /Unknown member 'domainName'; expected one of: ServiceArn, NextToken, MaxResults/ },

    // DisassociateCustomDomain
    { name: 'no DomainName', operation: 'DisassociateCustomDomain', body: (f) => ({ ServiceArn: f.domServiceArn }), error: 'InvalidRequestException', message: /Value null at 'domainName' failed to satisfy constraint: Member must not be null/ },
    { name: 'no ServiceArn', operation: 'DisassociateCustomDomain', body: () => ({ DomainName: 'dom-a.example.com' }), error: 'InvalidRequestException', message: /Value null at 'serviceArn' failed to satisfy constraint: Member must not be null/ },
    { name: 'a DomainName with a space', operation: 'DisassociateCustomDomain', body: (f) => ({ ServiceArn: f.domServiceArn, DomainName: 'dom a.example.com' }), error: 'InvalidRequestException', message: /Value 'dom a\.example\.com' at 'domainName'.*regular expression pattern/ },
    { name: 'a domain not associated', operation: 'DisassociateCustomDomain', body: (f) => ({ ServiceArn: f.domServiceArn, DomainName: 'dom-z.example.com' }), error: 'ResourceNotFoundException', message: /Service 'dom-service' has no custom domain 'dom-z\.example\.com'; its custom domains: dom-taken\.example\.com, dom-a\.example\.com/ },
    { name: 'the www name instead of the domain', operation: 'DisassociateCustomDomain', body: (f) => ({ ServiceArn: f.domServiceArn, DomainName: 'www.dom-taken.example.com' }), error: 'ResourceNotFoundException', message: /has no custom domain 'www\.dom-taken\.example\.com'/ },
    { name: 'a service that does not exist', operation: 'DisassociateCustomDomain', body: (f) => ({ ServiceArn: serviceArn(f, 'dom-ghost/0123456789abcdef0123456789abcdef'), DomainName: 'dom-a.example.com' }), error: 'ResourceNotFoundException', message: /No service with ARN '.*dom-ghost.*' exists/ },
    { name: 'a service ARN without its id', operation: 'DisassociateCustomDomain', body: (f) => ({ ServiceArn: serviceArn(f, 'dom-service'), DomainName: 'dom-a.example.com' }), error: 'InvalidRequestException', message: /at 'serviceArn' is not a service ARN/ },
    { name: 'an unknown member', operation: 'DisassociateCustomDomain', body: (f) => ({ ServiceArn: f.domServiceArn, DomainName: 'dom-a.example.com', Force: true }), error: 'InvalidRequestException', message: /Unknown member 'force'; expected one of: ServiceArn, DomainName/ },
  ],
};
