package maintenance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/rs/zerolog"

	"fundigo/pkg/logging"
	"fundigo/pkg/tasks"
)

// handleCleanup runs the retention rules (all, or those the payload names),
// writes a per-rule report as the task result, and returns the rules' errors
// joined (retried: deleting is idempotent). Skipped rules are not errors.
func handleCleanup(deps Deps) tasks.Handler[tasks.MaintenanceCleanupPayload] {
	log := deps.Log.With().Str(logging.FieldComponent, "maintenance").Logger()
	return func(ctx context.Context, p tasks.MaintenanceCleanupPayload) error {
		all := rules(deps.Retention)
		for _, name := range p.Rules {
			if !slices.ContainsFunc(all, func(r rule) bool { return r.name == name }) {
				return tasks.Permanent(fmt.Errorf("unknown cleanup rule %q", name))
			}
		}
		var (
			res  tasks.MaintenanceCleanupResult
			errs []error
		)
		for _, r := range all {
			if len(p.Rules) > 0 && !slices.Contains(p.Rules, r.name) {
				continue
			}
			target, err := apply(ctx, deps, r)
			if err != nil {
				errs = append(errs, err)
			}
			res.Targets = append(res.Targets, target)
			logTarget(zerolog.Ctx(ctx), log, target)
		}
		if w := tasks.ResultFrom(ctx); w != nil {
			if b, err := json.Marshal(res); err == nil {
				if _, err := w.Write(b); err != nil {
					errs = append(errs, fmt.Errorf("write cleanup result: %w", err))
				}
			}
		}
		return errors.Join(errs...)
	}
}

// apply runs one rule unless its retention is disabled or a table is missing.
func apply(ctx context.Context, deps Deps, r rule) (tasks.MaintenanceCleanupTarget, error) {
	target := tasks.MaintenanceCleanupTarget{Name: r.name, Table: r.tables[0], Retention: r.retention.String()}
	if r.retention <= 0 {
		target.Skipped = "retention is 0: rows are kept forever"
		return target, nil
	}
	missing, err := missingTable(ctx, deps.Pool, r.tables)
	if err != nil {
		target.Error = err.Error()
		return target, fmt.Errorf("cleanup %s: %w", r.name, err)
	}
	if missing != "" {
		target.Skipped = "table " + missing + " does not exist yet"
		return target, nil
	}
	n, err := r.deleteFunc(ctx, deps.Pool, r.retention, deps.Retention.BatchSize)
	target.Deleted = n
	if err != nil {
		target.Error = err.Error()
		return target, fmt.Errorf("cleanup %s: %w", r.name, err)
	}
	return target, nil
}

// logTarget logs one rule's outcome with the task's logger when the worker
// put one in ctx, else the package's. A failed rule is not logged here: its
// error is returned, and the worker logs it once.
func logTarget(taskLog *zerolog.Logger, log zerolog.Logger, t tasks.MaintenanceCleanupTarget) {
	if t.Error != "" {
		return
	}
	if taskLog != nil && taskLog.GetLevel() != zerolog.Disabled {
		log = *taskLog // already carries component, task_id, task_type
	}
	log.Info().Str("rule", t.Name).Str("table", t.Table).Str("retention", t.Retention).
		Int64("deleted", t.Deleted).Str("skipped", t.Skipped).Msg("retention applied")
}
