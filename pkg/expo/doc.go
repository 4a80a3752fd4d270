// Package expo is a client for the Expo Push Service
// (https://docs.expo.dev/push-notifications/sending-notifications/).
//
// It follows Expo's published rules so that callers need not know them:
//
//   - at most 100 messages per send request and 1000 ids per receipts request
//     (larger inputs are split into chunks);
//   - request bodies over 1 KiB are gzip-compressed;
//   - at most Config.MaxConcurrent requests in flight per Client (share one
//     Client per process);
//   - an optional project-wide rate limit shared by every process through Redis
//     (see RedisLimiter), each message counting once per attempt;
//   - retries with exponential backoff and jitter on 429, 5xx and network
//     errors, honouring Retry-After; no retry on other 4xx answers;
//   - each message's payload is checked against the 4096-byte limit before
//     anything is sent;
//   - tickets are returned 1:1 and in order with the messages.
//
// The package carries no domain workflow: storing tickets, fetching receipts
// later and deactivating tokens are the caller's job. A simulator with the same
// wire contract lives in pkg/expo/exposim.
package expo
