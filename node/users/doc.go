// Package users holds the named accounts of a court's staff on its node:
// who they are (a login name and the person's name, 姓名), their roles
// (court.StaffRoles: 书记员, 承办法官, 执行局长, 上级法院审判员, IT,
// 审计, operator), the cases assigned to a judge, and their API tokens.
//
// IT creates accounts (`courtmesh user add`), issues tokens (`courtmesh
// user token`), revokes them and disables accounts. A token is
// "cmu_<id>_<secret>": the store keeps the id and argon2id(secret) under
// a per-token salt (the same parameters as the parties' query codes in
// node/party), never the secret. A token expires (90 days by default, a
// year at most) and can be revoked; a disabled account's tokens stop at
// once.
//
// Service implements api.Gate: it authenticates the local API's
// requests, and writes the policy's audit entries (api.request,
// api.refused, person.signin) with the person. What each role may do is
// not decided here but in the one policy of node/api (policy.go).
//
// Checking a token costs one argon2id (19 MiB, 2 passes): at most
// maxVerifying run at once, and a verified token is remembered in memory
// (by its SHA-256) for cacheFor, so that a client's stream of requests
// pays it once. Revocation, expiry and a disabled account still take
// effect on the next request: every request reads the account.
package users
