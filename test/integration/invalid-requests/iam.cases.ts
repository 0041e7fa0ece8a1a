/**
 * Invalid requests of Berth's access-control operations (`Berth.<Operation>`): shapes, names
 * taken (without regard to case), what does not exist, a user that still holds keys or
 * policies, the per-user limits, malformed policy documents. The harness's caller is `admin`.
 */
import type { CaseFamily, InvalidCase } from './types.ts';

const USER = 'iam-case-user';
const policyOf = (...statements: Record<string, unknown>[]): string => JSON.stringify({ Version: '2012-10-17', Statement: statements });
const ALLOW_LIST = { Effect: 'Allow', Action: 'apprunner:List*', Resource: '*' };

/** PutUserPolicy on the fixture user with this document. */
const putPolicy = (name: string, document: unknown, message: RegExp): InvalidCase => ({
  name,
  operation: 'Berth.PutUserPolicy',
  body: () => ({ UserName: USER, PolicyName: 'iam-new', PolicyDocument: typeof document === 'string' ? document : JSON.stringify(document) }),
  error: 'InvalidRequestException',
  message,
});

export const family: CaseFamily = {
  name: 'access control',
  async setup(api) {
    const key = async (userName: string): Promise<string> =>
      String(((await api.call('Berth.CreateAccessKey', { UserName: userName })).AccessKey as { AccessKeyId: string }).AccessKeyId);
    await api.call('Berth.CreateUser', { UserName: USER });
    await api.call('Berth.PutUserPolicy', { UserName: USER, PolicyName: 'iam-list', PolicyDocument: policyOf(ALLOW_LIST) });
    const iamUserKey = await key(USER);
    await key(USER);
    await api.call('Berth.CreateUser', { UserName: 'iam-case-other' });
    const iamOtherKey = await key('iam-case-other');
    await api.call('Berth.CreateUser', { UserName: 'iam-case-policy-only' });
    await api.call('Berth.PutUserPolicy', { UserName: 'iam-case-policy-only', PolicyName: 'iam-only', PolicyDocument: policyOf(ALLOW_LIST) });
    await api.call('Berth.CreateUser', { UserName: 'iam-case-full' });
    for (let i = 1; i <= 10; i++) await api.call('Berth.PutUserPolicy', { UserName: 'iam-case-full', PolicyName: `iam-p${i}`, PolicyDocument: policyOf(ALLOW_LIST) });
    const page = await api.call('Berth.ListUsers', { MaxResults: 1 });
    return { iamUserKey, iamOtherKey, iamUsersToken: String(page.NextToken) };
  },
  cases: [
    // CreateUser
    { name: 'no UserName', operation: 'Berth.CreateUser', body: () => ({}), error: 'InvalidRequestException', message: /Value null at 'userName' failed to satisfy constraint: Member must not be null/ },
    { name: 'an empty UserName', operation: 'Berth.CreateUser', body: () => ({ UserName: '' }), error: 'InvalidRequestException', message: /at 'userName' failed to satisfy constraint: Member must have length greater than or equal to 1/ },
    { name: 'a UserName of 65 characters', operation: 'Berth.CreateUser', body: () => ({ UserName: `iam-${'x'.repeat(61)}` }), error: 'InvalidRequestException', message: /at 'userName' failed to satisfy constraint: Member must have length less than or equal to 64/ },
    { name: 'a UserName with a space', operation: 'Berth.CreateUser', body: () => ({ UserName: 'iam bad' }), error: 'InvalidRequestException', message: /Value 'iam bad' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern/ },
    { name: 'a UserName with a slash', operation: 'Berth.CreateUser', body: () => ({ UserName: 'iam/x' }), error: 'InvalidRequestException', message: /Value 'iam\/x' at 'userName'.*regular expression pattern/ },
    { name: 'a UserName that is a number', operation: 'Berth.CreateUser', body: () => ({ UserName: 42 }), error: 'InvalidRequestException', message: /Value 42 at 'userName' must be a string/ },
    { name: 'the name of an existing user', operation: 'Berth.CreateUser', body: () => ({ UserName: USER }), error: 'InvalidRequestException', message: /User with name 'iam-case-user' already exists; choose another UserName/ },
    { name: 'an existing name in other case', operation: 'Berth.CreateUser', body: () => ({ UserName: 'IAM-Case-User' }), error: 'InvalidRequestException', message: /User with name 'IAM-Case-User' already exists \(as 'iam-case-user'; user names are not case-sensitive\)/ },
    { name: 'an unknown member', operation: 'Berth.CreateUser', body: () => ({ UserName: 'iam-new', Path: '/team/' }), error: 'InvalidRequestException', message: /Unknown member 'path'; expected one of: UserName/ },
    { name: 'a body that is not JSON', operation: 'Berth.CreateUser', body: () => '{"UserName": "iam-new"', error: 'SerializationException', message: /not valid JSON/ },

    // GetUser, ListUsers
    { name: 'a user that does not exist', operation: 'Berth.GetUser', body: () => ({ UserName: 'iam-nobody' }), error: 'ResourceNotFoundException', message: /The user with name 'iam-nobody' cannot be found/ },
    { name: 'a UserName with a wildcard', operation: 'Berth.GetUser', body: () => ({ UserName: 'iam-*' }), error: 'InvalidRequestException', message: /Value 'iam-\*' at 'userName'.*regular expression pattern/ },
    { name: 'MaxResults 0', operation: 'Berth.ListUsers', body: () => ({ MaxResults: 0 }), error: 'InvalidRequestException', message: /Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1/ },
    { name: 'MaxResults 1001', operation: 'Berth.ListUsers', body: () => ({ MaxResults: 1001 }), error: 'InvalidRequestException', message: /at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000/ },
    { name: 'MaxResults as a string', operation: 'Berth.ListUsers', body: () => ({ MaxResults: '5' }), error: 'InvalidRequestException', message: /Value "5" at 'maxResults' must be an integer/ },
    { name: 'a NextToken that was never issued', operation: 'Berth.ListUsers', body: () => ({ NextToken: 'iam-garbage' }), error: 'InvalidRequestException', message: /The NextToken 'iam-garbage' is invalid/ },
    { name: 'an empty NextToken', operation: 'Berth.ListUsers', body: () => ({ NextToken: '' }), error: 'InvalidRequestException', message: /at 'nextToken' failed to satisfy constraint: Member must have length greater than or equal to 1/ },

    // DeleteUser
    { name: 'no UserName', operation: 'Berth.DeleteUser', body: () => ({ UserName: null }), error: 'InvalidRequestException', message: /Value null at 'userName' failed to satisfy constraint: Member must not be null/ },
    { name: 'a user that does not exist', operation: 'Berth.DeleteUser', body: () => ({ UserName: 'iam-nobody' }), error: 'ResourceNotFoundException', message: /The user with name 'iam-nobody' cannot be found/ },
    { name: 'a user with access keys and a policy', operation: 'Berth.DeleteUser', body: () => ({ UserName: USER }), error: 'InvalidStateException', message: /Cannot delete user 'iam-case-user' while it has access keys AKIA\w+, AKIA\w+ \(DeleteAccessKey\) and policies iam-list \(DeleteUserPolicy\); delete them first/ },
    { name: 'a user with a policy only', operation: 'Berth.DeleteUser', body: () => ({ UserName: 'iam-case-policy-only' }), error: 'InvalidStateException', message: /Cannot delete user 'iam-case-policy-only' while it has policies iam-only \(DeleteUserPolicy\)/ },
    { name: 'the caller itself', operation: 'Berth.DeleteUser', body: () => ({ UserName: 'admin' }), error: 'InvalidRequestException', message: /User 'admin' is the user making this request and cannot delete itself/ },

    // Access keys
    { name: 'a third key', operation: 'Berth.CreateAccessKey', body: () => ({ UserName: USER }), error: 'ServiceQuotaExceededException', status: 402, message: /Cannot exceed quota for AccessKeysPerUser: 2; user 'iam-case-user' has AKIA\w+ and AKIA\w+/ },
    { name: 'a user that does not exist', operation: 'Berth.CreateAccessKey', body: () => ({ UserName: 'iam-nobody' }), error: 'ResourceNotFoundException', message: /'iam-nobody' cannot be found/ },
    { name: 'a user that does not exist', operation: 'Berth.ListAccessKeys', body: () => ({ UserName: 'iam-nobody' }), error: 'ResourceNotFoundException', message: /'iam-nobody' cannot be found/ },
    { name: 'a NextToken of another listing', operation: 'Berth.ListAccessKeys', body: (f) => ({ UserName: USER, NextToken: f.iamUsersToken }), error: 'InvalidRequestException', message: /does not belong to this listing/ },
    { name: 'a Status that is not Active or Inactive', operation: 'Berth.UpdateAccessKey', body: (f) => ({ UserName: USER, AccessKeyId: f.iamUserKey, Status: 'Enabled' }), error: 'InvalidRequestException', message: /Value 'Enabled' at 'status' failed to satisfy constraint: Member must satisfy enum value set: \[Active, Inactive\]/ },
    { name: 'a Status in lower case', operation: 'Berth.UpdateAccessKey', body: (f) => ({ UserName: USER, AccessKeyId: f.iamUserKey, Status: 'inactive' }), error: 'InvalidRequestException', message: /Value 'inactive' at 'status'.*enum value set/ },
    { name: 'no Status', operation: 'Berth.UpdateAccessKey', body: (f) => ({ UserName: USER, AccessKeyId: f.iamUserKey }), error: 'InvalidRequestException', message: /Value null at 'status' failed to satisfy constraint: Member must not be null/ },
    { name: 'no AccessKeyId', operation: 'Berth.UpdateAccessKey', body: () => ({ UserName: USER, Status: 'Inactive' }), error: 'InvalidRequestException', message: /Value null at 'accessKeyId' failed to satisfy constraint: Member must not be null/ },
    { name: 'an AccessKeyId of 4 characters', operation: 'Berth.UpdateAccessKey', body: () => ({ UserName: USER, AccessKeyId: 'AKIA', Status: 'Inactive' }), error: 'InvalidRequestException', message: /Value 'AKIA' at 'accessKeyId' failed to satisfy constraint: Member must have length greater than or equal to 16/ },
    { name: 'another user\'s key', operation: 'Berth.UpdateAccessKey', body: (f) => ({ UserName: USER, AccessKeyId: f.iamOtherKey, Status: 'Inactive' }), error: 'ResourceNotFoundException', message: /The access key with id 'AKIA\w+' cannot be found for user 'iam-case-user'/ },
    { name: 'a key id that was never issued', operation: 'Berth.UpdateAccessKey', body: () => ({ UserName: USER, AccessKeyId: 'AKIAIAMNEVERISSUED00', Status: 'Inactive' }), error: 'ResourceNotFoundException', message: /'AKIAIAMNEVERISSUED00' cannot be found/ },
    { name: 'a session key id', operation: 'Berth.UpdateAccessKey', body: () => ({ AccessKeyId: 'ASIAIAMNEVERISSUED00', Status: 'Inactive' }), error: 'ResourceNotFoundException', message: /'ASIAIAMNEVERISSUED00' cannot be found for user 'admin'/ },
    { name: 'a key id that was never issued', operation: 'Berth.DeleteAccessKey', body: () => ({ UserName: USER, AccessKeyId: 'AKIAIAMNEVERISSUED00' }), error: 'ResourceNotFoundException', message: /'AKIAIAMNEVERISSUED00' cannot be found for user 'iam-case-user'/ },
    { name: 'another user\'s key', operation: 'Berth.DeleteAccessKey', body: (f) => ({ AccessKeyId: f.iamUserKey }), error: 'ResourceNotFoundException', message: /cannot be found for user 'admin'/ },
    { name: 'an AccessKeyId with a dash', operation: 'Berth.DeleteAccessKey', body: () => ({ UserName: USER, AccessKeyId: 'AKIA-IAM-0000000000' }), error: 'InvalidRequestException', message: /Value 'AKIA-IAM-0000000000' at 'accessKeyId'.*regular expression pattern/ },

    // PutUserPolicy: the document
    putPolicy('a document that is not JSON', '{"Version": "2012-10-17",', /The policy document is malformed: it is not valid JSON/),
    putPolicy('an unsupported Version', { Version: '2024-01-01', Statement: ALLOW_LIST }, /Version '2024-01-01' is not supported; use one of 2012-10-17, 2008-10-17/),
    putPolicy('no Version', { Statement: ALLOW_LIST }, /Version is missing; add "Version": "2012-10-17"/),
    putPolicy('an empty Statement list', { Version: '2012-10-17', Statement: [] }, /Statement is an empty list; a policy needs at least one statement/),
    putPolicy('a Condition', { Version: '2012-10-17', Statement: { ...ALLOW_LIST, Condition: { Bool: { 'aws:SecureTransport': 'true' } } } }, /Statement\.Condition is not supported by Berth/),
    putPolicy('a Principal', { Version: '2012-10-17', Statement: [{ ...ALLOW_LIST, Principal: { AWS: '*' } }] }, /Statement\[0\]\.Principal is not allowed/),
    putPolicy('both Action and NotAction', { Version: '2012-10-17', Statement: { ...ALLOW_LIST, NotAction: 'berth:*' } }, /Statement has both Action and NotAction; keep exactly one of them/),
    putPolicy('no Resource', { Version: '2012-10-17', Statement: { Effect: 'Allow', Action: '*' } }, /Statement has neither Resource nor NotResource/),
    putPolicy('Effect in lower case', { Version: '2012-10-17', Statement: { ...ALLOW_LIST, Effect: 'allow' } }, /Statement\.Effect must be 'Allow' or 'Deny' \(case-sensitive\), not 'allow'/),
    putPolicy('an unknown statement element', { Version: '2012-10-17', Statement: { ...ALLOW_LIST, Resources: '*' } }, /Statement has an unknown element 'Resources'/),
    putPolicy('an action of another service', { Version: '2012-10-17', Statement: { ...ALLOW_LIST, Action: ['apprunner:ListServices', 's3:GetObject'] } }, /Statement\.Action\[1\] 's3:GetObject' names the service 's3'/),
    putPolicy('an App Runner operation that does not exist', { Version: '2012-10-17', Statement: { ...ALLOW_LIST, Action: 'apprunner:ListServics' } }, /'apprunner:ListServics' matches no App Runner operation/),
    putPolicy('a resource that is not an ARN', { Version: '2012-10-17', Statement: { ...ALLOW_LIST, Resource: 'my-service' } }, /Statement\.Resource 'my-service' must be an ARN/),
    putPolicy('a document over 6144 characters', { Version: '2012-10-17', Statement: { ...ALLOW_LIST, Resource: Array.from({ length: 150 }, (_, i) => `arn:aws:apprunner:us-east-1:000000000000:service/iam-${i}/*`) } }, /it has \d+ characters other than whitespace; at most 6144 are allowed/),
    putPolicy('a document with a control character', `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*\u0001"}}`, /at 'policyDocument' failed to satisfy constraint: Member must satisfy regular expression pattern/),
    { name: 'a document that is an object, not a string', operation: 'Berth.PutUserPolicy', body: () => ({ UserName: USER, PolicyName: 'iam-new', PolicyDocument: { Version: '2012-10-17', Statement: ALLOW_LIST } }), error: 'InvalidRequestException', message: /at 'policyDocument' must be a string/ },
    { name: 'a user that does not exist', operation: 'Berth.PutUserPolicy', body: () => ({ UserName: 'iam-nobody', PolicyName: 'iam-new', PolicyDocument: policyOf(ALLOW_LIST) }), error: 'ResourceNotFoundException', message: /'iam-nobody' cannot be found/ },
    { name: 'a PolicyName with a space', operation: 'Berth.PutUserPolicy', body: () => ({ UserName: USER, PolicyName: 'iam new', PolicyDocument: policyOf(ALLOW_LIST) }), error: 'InvalidRequestException', message: /Value 'iam new' at 'policyName'.*regular expression pattern/ },
    { name: 'a PolicyName of 129 characters', operation: 'Berth.PutUserPolicy', body: () => ({ UserName: USER, PolicyName: 'p'.repeat(129), PolicyDocument: policyOf(ALLOW_LIST) }), error: 'InvalidRequestException', message: /at 'policyName' failed to satisfy constraint: Member must have length less than or equal to 128/ },
    { name: 'an eleventh policy', operation: 'Berth.PutUserPolicy', body: () => ({ UserName: 'iam-case-full', PolicyName: 'iam-p11', PolicyDocument: policyOf(ALLOW_LIST) }), error: 'ServiceQuotaExceededException', status: 402, message: /Cannot exceed quota for PoliciesPerUser: 10; user 'iam-case-full' has iam-p1, iam-p10/ },

    // GetUserPolicy, ListUserPolicies, DeleteUserPolicy
    { name: 'a policy that does not exist', operation: 'Berth.GetUserPolicy', body: () => ({ UserName: USER, PolicyName: 'iam-none' }), error: 'ResourceNotFoundException', message: /The user policy with name 'iam-none' cannot be found for user 'iam-case-user'/ },
    { name: 'no PolicyName', operation: 'Berth.GetUserPolicy', body: () => ({ UserName: USER }), error: 'InvalidRequestException', message: /Value null at 'policyName' failed to satisfy constraint: Member must not be null/ },
    { name: 'no UserName', operation: 'Berth.ListUserPolicies', body: () => ({}), error: 'InvalidRequestException', message: /Value null at 'userName' failed to satisfy constraint: Member must not be null/ },
    { name: 'a user that does not exist', operation: 'Berth.ListUserPolicies', body: () => ({ UserName: 'iam-nobody' }), error: 'ResourceNotFoundException', message: /'iam-nobody' cannot be found/ },
    { name: 'a policy that does not exist', operation: 'Berth.DeleteUserPolicy', body: () => ({ UserName: USER, PolicyName: 'iam-none' }), error: 'ResourceNotFoundException', message: /The user policy with name 'iam-none' cannot be found/ },

    // GetSessionToken, GetCallerIdentity
    { name: 'DurationSeconds 899', operation: 'Berth.GetSessionToken', body: () => ({ DurationSeconds: 899 }), error: 'InvalidRequestException', message: /Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900/ },
    { name: 'DurationSeconds 129601', operation: 'Berth.GetSessionToken', body: () => ({ DurationSeconds: 129601 }), error: 'InvalidRequestException', message: /Value '129601' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 129600/ },
    { name: 'DurationSeconds as a string', operation: 'Berth.GetSessionToken', body: () => ({ DurationSeconds: '3600' }), error: 'InvalidRequestException', message: /Value "3600" at 'durationSeconds' must be an integer/ },
    { name: 'a fractional DurationSeconds', operation: 'Berth.GetSessionToken', body: () => ({ DurationSeconds: 900.5 }), error: 'InvalidRequestException', message: /at 'durationSeconds' must be an integer/ },
    { name: 'an MFA serial number', operation: 'Berth.GetSessionToken', body: () => ({ SerialNumber: 'arn:aws:iam::000000000000:mfa/admin', TokenCode: '123456' }), error: 'InvalidRequestException', message: /Unknown member 'serialNumber'; expected one of: DurationSeconds/ },
    { name: 'an unknown member', operation: 'Berth.GetCallerIdentity', body: () => ({ UserName: 'admin' }), error: 'InvalidRequestException', message: /Unknown member 'userName'; expected one of: \(none\)/ },
    { name: 'an IAM operation Berth does not have', operation: 'Berth.CreateGroup', body: () => ({ GroupName: 'iam-group' }), error: 'UnknownOperationException', message: /Unknown operation 'Berth\.CreateGroup'/ },
  ],
};
