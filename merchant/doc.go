// Package merchant manages merchants as the API and the operator CLI see
// them: creation with webhook endpoints and their signing secret, API keys
// (stored as SHA-256 hashes, bound to networks, scoped, expiring) and the
// per-key rate limit.
package merchant
