package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/mpesa/mpesasim"
	"fundigo/pkg/tasks"
	"fundigo/pkg/tasks/taskstest"
)

// startPayoutsE2E is one `fundigo all` whose payouts settle within seconds.
func startPayoutsE2E(t *testing.T) *paymentsE2E {
	t.Helper()
	getenv, base := testEnv(t, map[string]string{
		"FUNDIGO_MPESA_CALLBACK_TOKEN":     e2eCallbackToken,
		"FUNDIGO_MPESA_SIM_CALLBACK_DELAY": "300ms",
		"FUNDIGO_PAYOUTS_STATUS_AFTER":     "1s",
		"FUNDIGO_PAYOUTS_STATUS_EVERY":     "1s",
		"FUNDIGO_PAYOUTS_STATUS_MAX_EVERY": "2s",
		"FUNDIGO_PAYOUTS_FINAL_DEADLINE":   "12s",
	})
	stop, logs := startAll(t, getenv, base)
	return startPaymentsE2EOn(t, getenv, base, logs, stop)
}

func (e *paymentsE2E) createPayout(t *testing.T, phone string, amount int, key string) map[string]any {
	t.Helper()
	code, p := e.call(t, http.MethodPost, "/v1/payouts", map[string]any{
		"technician_id": "tech-" + phone, "job_id": "job-" + key, "phone": phone, "amount": amount, "remarks": "Job done",
	}, map[string]string{"Idempotency-Key": key})
	require.Equal(t, http.StatusAccepted, code, "%v", p)
	require.Equal(t, "pending", p["status"])
	return p
}

// reconcilePayouts enqueues a payout reconciliation run now.
func (e *paymentsE2E) reconcilePayouts(t *testing.T) {
	t.Helper()
	c := asynq.NewClient(taskstest.RedisOpt())
	defer c.Close()
	_, err := c.Enqueue(tasks.NewPayoutsReconcile(tasks.NewQueues(e.getenv("FUNDIGO_TASKS_QUEUE_PREFIX")).Critical))
	require.NoError(t, err)
}

// waitPayout polls GET /v1/payouts/{id} (running reconciliation) until
// its status is want.
func (e *paymentsE2E) waitPayout(t *testing.T, id, want string) map[string]any {
	t.Helper()
	var last map[string]any
	deadline := time.Now().Add(40 * time.Second)
	for n := 0; ; n++ {
		_, last = e.call(t, http.MethodGet, "/v1/payouts/"+id, nil, nil)
		if last["status"] == want {
			return last
		}
		if time.Now().After(deadline) {
			t.Fatalf("payout %s never reached %s: %v", id, want, last)
		}
		if n%10 == 9 {
			e.reconcilePayouts(t)
		}
		time.Sleep(100 * time.Millisecond) // polling with a deadline
	}
}

func (e *paymentsE2E) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, e.pool.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

// TestPayoutsEndToEnd drives each B2C magic number through the real roles
// (API, outbox relay, worker, scheduler tasks, simulator) to its documented
// final state, with one ledger row per receipt and one payout.* outcome.
func TestPayoutsEndToEnd(t *testing.T) {
	t.Parallel()
	e := startPayoutsE2E(t)
	cases := []struct {
		name, phone, status, reason, code string
		viaStatus                         bool
	}{
		{"success", mpesasim.PhoneSuccess, "succeeded", "", "0", false},
		{"insufficient balance", mpesasim.PhoneB2CInsufficientBalance, "failed", "insufficient_balance", "1", false},
		{"initiator invalid", mpesasim.PhoneB2CInitiatorInvalid, "failed", "initiator_invalid", "2001", false},
		{"timeout then completed", mpesasim.PhoneB2CTimeoutCompleted, "succeeded", "", "0", true},
		{"timeout then failed", mpesasim.PhoneB2CTimeoutFailed, "failed", "other", "", true},
		{"silent", mpesasim.PhoneB2CSilent, "needs_review", "", "", true},
	}
	t.Run("group", func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.name+" "+c.phone, func(t *testing.T) {
				t.Parallel()
				created := e.createPayout(t, c.phone, 250, "payout-"+c.phone)
				id := created["id"].(string)
				// A retry with the same key is the same payout, never a second one.
				again := e.createPayout(t, c.phone, 250, "payout-"+c.phone)
				require.Equal(t, id, again["id"])

				p := e.waitPayout(t, id, c.status)
				require.Equal(t, "2547****"+c.phone[8:], p["phone"])
				require.NotEmpty(t, p["originator_conversation_id"])
				if c.reason == "" {
					require.Nil(t, p["failure_reason"])
				} else {
					require.Equal(t, c.reason, p["failure_reason"])
				}
				if c.code != "" {
					require.Equal(t, c.code, p["result_code"])
				}
				receipts := e.count(t, `SELECT count(*) FROM payment_ledger WHERE payout_id = $1`, id)
				if c.status == "succeeded" {
					require.NotEmpty(t, p["mpesa_receipt"])
					require.Equal(t, 1, receipts)
					require.Equal(t, 1, e.count(t, `SELECT count(*) FROM payment_ledger WHERE mpesa_receipt = $1`, p["mpesa_receipt"]))
				} else {
					require.Zero(t, receipts)
				}
				if c.viaStatus {
					require.NotNil(t, p["status_query"], "settled through Transaction Status")
				}
				e.publishedEvent(t, "payout."+c.status, id)
				outcomes := e.count(t, `SELECT count(*) FROM outbox WHERE message_id = ANY($1)`, []string{
					"payout.succeeded:" + id, "payout.failed:" + id, "payout.needs_review:" + id})
				require.Equal(t, 1, outcomes, "exactly one payout outcome event")
			})
		}
	})
}
