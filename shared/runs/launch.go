package runs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/executor/message"
	"github.com/runwaydata/runway/shared/failure"
	"github.com/runwaydata/runway/shared/logging"
)

// Launch is a request to start a run of a configuration.
type Launch struct {
	Account         string
	Environment     string
	ConfigType      string // as the caller named it
	ConfigurationID string
	JobID           string // optional: must be the configuration's job id
	ExecutionDate   string // optional YYYY-MM-DD; defaults to the launch day (UTC)
	IdempotencyKey  string // optional: replays return the first launch's run
	// Parameters is an optional JSON object, compact, passed to the
	// executor in the launch message and kept on the run.
	Parameters json.RawMessage
	// CallbackURL, optional, is called back when the run finishes.
	CallbackURL string
}

// Launch authorizes who (role need) and starts a run. It returns the run
// and whether it was an idempotent replay of an earlier launch.
//
// The member and the configuration are read in one round trip, which is why
// Launch authorizes itself rather than leaving it to the API layer.
func (s *Service) Launch(ctx context.Context, who auth.Caller, need auth.Role, l Launch) (Run, bool, error) {
	run, cfg, earlier, err := s.prepare(ctx, who, need, l)
	switch {
	case err != nil:
		return Run{}, false, err
	case earlier != nil:
		logging.Annotate(ctx, slog.String("run_id", earlier.RunID), slog.Bool("replay", true))
		return *earlier, true, nil
	}
	created, err := s.create(ctx, run)
	if errors.Is(err, ErrAlreadyExists) {
		return s.replay(ctx, run)
	}
	if err != nil {
		return Run{}, false, fmt.Errorf("store.CreateRun: %w", err)
	}
	logging.Annotate(ctx, slog.String("run_id", run.RunID), slog.Bool("queued", created.Queued))
	s.Start(ctx, created, cfg.Definition)
	return created, false, nil
}

// DryRun checks a launch as Launch does (role, configuration, activation,
// request) and returns the launch message it would publish, without its
// run id, writing nothing. A launch whose idempotency key was used before
// would be a replay: DryRun then returns the run it would answer with.
func (s *Service) DryRun(ctx context.Context, who auth.Caller, need auth.Role, l Launch) (message.Launch, *Run, error) {
	logging.Annotate(ctx, slog.Bool("dry_run", true))
	run, cfg, earlier, err := s.prepare(ctx, who, need, l)
	switch {
	case err != nil:
		return message.Launch{}, nil, err
	case earlier != nil:
		return message.Launch{}, earlier, nil
	}
	if earlier, err := s.earlierLaunch(ctx, run); err != nil || earlier != nil {
		return message.Launch{}, earlier, err
	}
	msg := LaunchMessageOf(run, cfg.Definition)
	msg.RunID = ""
	return msg, nil, nil
}

// prepare reads and checks what a launch needs, and returns the run it
// would create. When the launch is refused but is the replay of an earlier
// launch with the same idempotency key, it returns that earlier run
// instead: a replay answers as the first launch did, whatever changed since
// (the configuration deactivated, the callback host no longer allowed).
func (s *Service) prepare(ctx context.Context, who auth.Caller, need auth.Role, l Launch) (Run, *configs.Configuration, *Run, error) {
	kind, ok := configs.KindOf(l.ConfigType)
	if !ok {
		return Run{}, nil, nil, failure.InvalidField("configuration_type", "unknown configuration type %q", l.ConfigType)
	}
	ref := configs.ConfigRef{Environment: l.Environment, Kind: kind, ConfigurationID: l.ConfigurationID}
	role, cfg, err := s.store.LoadLaunch(ctx, l.Account, who.Email, ref)
	if err != nil {
		return Run{}, nil, nil, fmt.Errorf("store.LoadLaunch: %w", err)
	}
	if err := s.authz.Check(who, l.Account, role, need); err != nil {
		return Run{}, nil, nil, err
	}
	// Only a launch with an idempotency key can be replayed, so only its
	// run keeps the request's hash, to tell a replay from a misuse of the
	// key: a run with a random key would store it for nothing.
	key, hash := RandomKey(), ""
	if l.IdempotencyKey != "" {
		key, hash = IdempotentKey(l.Account, l.IdempotencyKey), requestHash(kind, l)
	}
	if err := s.refusal(ctx, cfg, l); err != nil {
		attempt := Run{Account: l.Account, Key: key, IdempotencyKey: l.IdempotencyKey, RequestHash: hash}
		if earlier, lookupErr := s.earlierLaunch(ctx, attempt); lookupErr == nil && earlier != nil {
			return Run{}, nil, earlier, nil
		}
		return Run{}, nil, nil, err
	}

	run := NewRun(*cfg, key, s.clock())
	run.ConfigurationType = l.ConfigType // as the caller named it: gbq-to-gbq stays gbq-to-gbq
	run.TriggerType, run.StartedBy = TriggerAPI, who.Email
	run.IdempotencyKey, run.RequestHash = l.IdempotencyKey, hash
	run.Parameters, run.CallbackURL = l.Parameters, l.CallbackURL
	if l.ExecutionDate != "" {
		run.ExecutionDate = l.ExecutionDate
	}
	return run, cfg, nil, nil
}

// refusal says why the configuration cannot launch l, if it cannot.
func (s *Service) refusal(ctx context.Context, cfg *configs.Configuration, l Launch) error {
	if err := launchable(cfg, l); err != nil {
		return err
	}
	if l.CallbackURL != "" {
		return s.callbacks.CheckCallbackURL(ctx, l.Account, l.CallbackURL)
	}
	return nil
}

// earlierLaunch returns the run an earlier launch made with attempt's
// idempotency key (attempt.Key is derived from it), or nil when there is
// no key or no such launch; a conflict when that launch was of another
// request.
func (s *Service) earlierLaunch(ctx context.Context, attempt Run) (*Run, error) {
	if attempt.IdempotencyKey == "" {
		return nil, nil
	}
	existing, err := s.store.GetRun(ctx, attempt.Account, attempt.Key)
	switch {
	case errors.Is(err, failure.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("store.GetRun: %w", err)
	}
	if err := replayable(attempt, existing); err != nil {
		return nil, err
	}
	return &existing, nil
}

// NewRun returns a new RUNNING run of cfg with the given key, started at
// now, with cfg's execution policy. Its caller says who started it.
func NewRun(cfg configs.Configuration, key string, now time.Time) Run {
	run := Run{
		Key:                key,
		RunID:              NewRunID(now, key),
		AuditID:            AuditIDOf(key),
		Account:            cfg.Account,
		Environment:        cfg.Environment,
		ConfigurationType:  cfg.ConfigurationType,
		Kind:               cfg.Kind,
		ConfigurationID:    cfg.ConfigurationID,
		JobID:              cfg.JobID,
		Status:             StatusRunning,
		ExecutionDate:      now.Format(time.DateOnly),
		StartExecutionDate: now,
		LastUpdateDate:     now,
		Attempt:            1,
		Timeout:            cfg.Policy.Timeout,
		Retries:            cfg.Policy.Retries,
		RetryDelay:         cfg.Policy.RetryDelay,
		MaxActiveRuns:      cfg.Schedule.MaxActiveRuns,
	}
	if run.Timeout > 0 {
		run.Deadline = now.Add(run.Timeout)
	}
	return run
}

// launchable explains why cfg cannot be launched as l asks, or returns nil.
func launchable(cfg *configs.Configuration, l Launch) error {
	if cfg == nil {
		return failure.NotFound("configuration %s (%s) not found in environment %s of account %s",
			l.ConfigurationID, l.ConfigType, l.Environment, l.Account)
	}
	if err := cfg.Launchable(); err != nil {
		return err
	}
	if l.JobID != "" && l.JobID != cfg.JobID {
		return failure.InvalidField("job_id", "job_id %q is not the job id of configuration %s (%s)", l.JobID, l.ConfigurationID, cfg.JobID)
	}
	return nil
}

// replay answers a launch whose idempotency key was used before: with the
// first launch's run if the requests are the same, with a conflict if not.
func (s *Service) replay(ctx context.Context, attempt Run) (Run, bool, error) {
	existing, err := s.earlierLaunch(ctx, attempt)
	if err == nil && existing == nil {
		err = fmt.Errorf("store.GetRun: %w", failure.ErrNotFound) // gone since CreateRun found it
	}
	if err != nil {
		return Run{}, false, err
	}
	logging.Annotate(ctx, slog.String("run_id", existing.RunID), slog.Bool("replay", true))
	return *existing, true, nil
}

// replayable explains why attempt, whose key is existing's, is not a
// replay of it but a different request reusing its idempotency key, or
// returns nil.
func replayable(attempt, existing Run) error {
	if existing.IdempotencyKey != attempt.IdempotencyKey || existing.RequestHash != attempt.RequestHash {
		return &failure.Error{Kind: failure.ErrConflict, Field: "idempotency_key", Message: fmt.Sprintf(
			"idempotency_key %q was already used by run %s for a different launch request; use a new key",
			attempt.IdempotencyKey, existing.RunID)}
	}
	return nil
}

// requestHash identifies a launch request, so that a replay with the same
// idempotency key can be told apart from a different request reusing it.
func requestHash(kind configs.Kind, l Launch) string {
	fields := []string{l.Account, l.Environment, string(kind), l.ConfigurationID, l.JobID, l.ExecutionDate}
	// Fields added later are hashed only when set, so that the hashes of
	// runs launched before them still match their replays.
	if len(l.Parameters) > 0 {
		fields = append(fields, "parameters="+string(l.Parameters))
	}
	if l.CallbackURL != "" {
		fields = append(fields, "callback_url="+l.CallbackURL)
	}
	b, _ := json.Marshal(fields)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// LaunchMessageOf is the message that launches run.
func LaunchMessageOf(run Run, definition map[string]any) message.Launch {
	msg := message.Launch{
		MessageType:       message.TypeLaunch,
		RunID:             run.RunID,
		Account:           run.Account,
		Environment:       run.Environment,
		ConfigurationType: string(run.Kind),
		ConfigurationID:   run.ConfigurationID,
		JobID:             run.JobID,
		ExecutionDate:     run.ExecutionDate,
		Attempt:           run.Attempt,
		ParentRunID:       run.ParentRunID,
		Definition:        definition,
		Parameters:        run.Parameters,
	}
	if run.Timeout > 0 {
		deadline := run.Deadline
		msg.Deadline = &deadline
		msg.HeartbeatInterval = (run.Timeout / 3).String()
	}
	return msg
}

// Publish sends the launch message of a new run. It records nothing: the
// executor's claim proves the delivery (Run.Deliveries). A failure is
// logged, and the Reaper publishes the message again once the run has
// gone unclaimed for its redelivery delay, so the launch is not lost.
func (s *Service) Publish(ctx context.Context, run Run, definition map[string]any) {
	_ = s.publish(ctx, run, definition)
}

// publish is Publish, saying whether the message went out.
func (s *Service) publish(ctx context.Context, run Run, definition map[string]any) error {
	// The request may be canceled once the run exists; the publish must
	// still go through, within its own deadline.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.publishTimeout)
	defer cancel()
	if _, err := s.bus.PublishLaunch(ctx, LaunchMessageOf(run, definition)); err != nil {
		logging.FromContext(ctx).ErrorContext(ctx, "launch message not published; the Reaper publishes it again if no executor claims the run",
			slog.String("run_id", run.RunID), slog.Time("deliver_by", run.DeliverBy), slog.Any("error", err))
		return err
	}
	return nil
}
