// Package exposim simulates the push providers FundiGO calls: the Expo Push
// Service (send and getReceipts) and FCM HTTP v1 (messages:send and the
// Google OAuth2 token endpoint). It is an http.Handler, used by tests through
// httptest and shipped in the binary as `fundigo push-sim`.
//
// # Routes and answers
//
//	POST /--/api/v2/push/send          Expo send; body: a message or an array
//	                                   (gzip accepted); `to` a token or tokens.
//	  200 {"data":[ticket...]}         one ticket per recipient, in order:
//	                                   {"status":"ok","id":"<uuid>"} or
//	                                   {"status":"error","message":"...",
//	                                    "details":{"error":"DeviceNotRegistered",
//	                                               "expoPushToken":"..."}}
//	  400 {"errors":[{"code":"PUSH_TOO_MANY_NOTIFICATIONS",...}]} over 100
//	  400 {"errors":[{"code":"VALIDATION_ERROR",...}]}  unreadable body
//	  429 {"errors":[{"code":"TOO_MANY_REQUESTS",...}]} + Retry-After
//	  5xx {"errors":[{"code":"INTERNAL_SERVER_ERROR",...}]}
//	POST /--/api/v2/push/getReceipts   body {"ids":[...]} (≤ 1000, else 400
//	                                   PUSH_TOO_MANY_RECEIPTS)
//	  200 {"data":{"<id>":{"status":"ok"} | {"status":"error",...}}}
//	                                   unknown ids are left out, as Expo does.
//	POST /v1/projects/{project}/messages:send   FCM v1; Bearer token from /token
//	  200 {"name":"projects/<p>/messages/<n>"}
//	  4xx/5xx {"error":{"code":404,"status":"NOT_FOUND","message":"...",
//	           "details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError",
//	                       "errorCode":"UNREGISTERED"}]}}
//	POST /token                        OAuth2 jwt-bearer grant (form: grant_type,
//	                                   assertion = RS256 JWT signed by the service
//	                                   account); 200 {"access_token","expires_in",
//	                                   "token_type":"Bearer"}
//	GET  /_sim/stats                   the counters (Stats) as JSON
//	POST /_sim/fail                    {"provider":"expo"|"fcm","status":429,
//	                                    "count":3,"retry_after_seconds":1}
//
// # Tokens that trigger outcomes
//
// A token containing "InvalidLater" gets an ok ticket and, later, a
// DeviceNotRegistered receipt (the token died after Expo accepted the
// message). Any other token containing "Invalid" gets a DeviceNotRegistered
// ticket at once; on FCM it gets 404 UNREGISTERED. A token that is not an
// Expo push token also gets a DeviceNotRegistered ticket, as Expo answers. A
// message whose payload exceeds 4096 bytes gets a MessageTooBig ticket.
//
// # Switches and counters
//
// FailNext, SetDelay and SetRateLimit inject provider trouble; Stats and
// Received report what arrived (per token, per request size, per second) so
// tests can check the client's behaviour from the provider's side.
package exposim
