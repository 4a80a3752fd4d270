// Package migrations embeds the numbered goose SQL files, so `fundigo migrate`,
// `fundigo all` and the test harness apply exactly the same schema.
//
// Version numbers are reserved per domain so parallel work never collides:
// 00001 foundation, 00002 outbox, 00010-00019 payments, 00020-00029
// notifications, 00030-00039 ratings, 00040-00049 scheduler, 00050-00059 celery, 00060-00069 API
// (idempotency records, list indexes).
package migrations

import "embed"

// FS holds every migration file.
//
//go:embed *.sql
var FS embed.FS
