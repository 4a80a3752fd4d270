// Package fcm is a client for Firebase Cloud Messaging HTTP v1
// (POST /v1/projects/{project}/messages:send), for devices that registered a
// native FCM token rather than an Expo one.
//
// FCM v1 takes one target per request; there is no batch endpoint. Requests
// carry an OAuth2 access token minted from a service account: the client
// signs an RS256 JWT with the account's private key, exchanges it at the
// token URL (jwt-bearer grant) and caches the access token until shortly
// before it expires. Sends are retried with exponential backoff and jitter on
// QUOTA_EXCEEDED (429), UNAVAILABLE (503), INTERNAL (500) and network errors,
// honouring Retry-After; UNREGISTERED comes back as ErrUnregistered so the
// caller can deactivate the token.
package fcm
