package runs

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/logging"
)

// ErrAlreadyExists is returned by Store.CreateRun when a run with the same
// key exists. It never reaches a caller: Launch turns it into a replay or a
// conflict.
var ErrAlreadyExists = errors.New("already exists")

// Store is the storage the domain needs. shared/store implements it on
// Firestore.
type Store interface {
	// LoadLaunch reads, in one round trip, the caller's role on the account
	// and the configuration to launch (nil if it does not exist).
	LoadLaunch(ctx context.Context, account, email string, ref ConfigRef) (auth.Role, *Configuration, error)
	// CreateRun creates the run, or returns ErrAlreadyExists and writes
	// nothing. The new run document is itself the record of the launch.
	CreateRun(ctx context.Context, run Run) error
	// GetRun returns the run with the given key, or an error wrapping
	// ErrNotFound.
	GetRun(ctx context.Context, account, key string) (Run, error)
	// QueryRuns returns the runs q selects, newest first.
	QueryRuns(ctx context.Context, account string, q Query) ([]Run, error)
	// CountRuns counts the runs q selects, ignoring its limit, up to most.
	CountRuns(ctx context.Context, account string, q Query, most int) (int, error)
	// UpdateRuns applies change to each of the runs with the given keys,
	// in one transaction, and returns the runs it saved, with their events.
	UpdateRuns(ctx context.Context, account string, keys []string, change func(*Run) (Update, error)) ([]Run, []Event, error)
	// GetConfiguration returns a configuration, or an error wrapping
	// ErrNotFound.
	GetConfiguration(ctx context.Context, account string, ref ConfigRef) (Configuration, error)
	// WatchRun returns the run as soon as done accepts it, or its last
	// state when ctx ends, without polling.
	WatchRun(ctx context.Context, account, key string, done func(Run) bool) (Run, error)
	// UpdateRun applies change to the run in a transaction, and saves what
	// change decides: the run and an event (returned, with its ID), or
	// nothing.
	UpdateRun(ctx context.Context, account, key string, change func(*Run) (Update, error)) (Run, *Event, error)
	// MarkEventPublished records that a run event was published.
	MarkEventPublished(ctx context.Context, account, key, eventID string) error
	// Waiting returns the runs of a configuration waiting for a slot,
	// oldest first, at most limit.
	Waiting(ctx context.Context, account string, ref ConfigRef, limit int) ([]Run, error)
	// Admit looks for a free slot among the configuration's slots and,
	// when it finds one, in one transaction, gives it to the oldest
	// waiting run, which admit admits. It returns the run admitted, or nil
	// when no slot it looked at is free or none waits; ErrAlreadyExists
	// when a launch took the slot first.
	Admit(ctx context.Context, account string, ref ConfigRef, slots int, admit func(r *Run, slot int)) (*Run, error)
	// Events returns a page of the run's recorded events, oldest first.
	Events(ctx context.Context, account, key string, page EventPage) ([]Event, error)
}

// Publisher publishes Runway's messages. shared/bus implements it on
// Pub/Sub.
type Publisher interface {
	PublishLaunch(ctx context.Context, msg LaunchMessage) (messageID string, err error)
	PublishRunEvent(ctx context.Context, ev RunEvent) (messageID string, err error)
	PublishCancel(ctx context.Context, msg CancelMessage) (messageID string, err error)
}

// CallbackPolicy decides whether a launch may ask to be called back at a
// URL. shared/callbacks implements it with the account's settings.
type CallbackPolicy interface {
	CheckCallbackURL(ctx context.Context, account, url string) error
}

// Service carries out launches, status reads and status changes.
type Service struct {
	store     Store
	bus       Publisher
	authz     *auth.Authorizer
	callbacks CallbackPolicy
	now       func() time.Time
	// publishTimeout bounds the publish that follows a launch, so that a
	// Pub/Sub outage delays the answer by at most this much.
	publishTimeout time.Duration
	// redeliverAfter is how long a run's launch message may go unclaimed
	// before the Reaper publishes it again.
	redeliverAfter time.Duration
}

// DefaultRedeliverAfter is Deps.RedeliverAfter's default: long enough for
// executors to claim what they are sent, short enough that a lost publish
// costs a minute.
const DefaultRedeliverAfter = time.Minute

// Deps are a Service's dependencies.
type Deps struct {
	Store     Store
	Bus       Publisher
	Authz     *auth.Authorizer
	Callbacks CallbackPolicy
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// RedeliverAfter is how long a launch message may go unclaimed before
	// the Reaper publishes it again (doubling with each publish); 0 means
	// DefaultRedeliverAfter.
	RedeliverAfter time.Duration
}

// NewService returns a Service.
func NewService(deps Deps) (*Service, error) {
	switch {
	case deps.Store == nil:
		return nil, errors.New("runs: missing store")
	case deps.Bus == nil:
		return nil, errors.New("runs: missing publisher")
	case deps.Authz == nil:
		return nil, errors.New("runs: missing authorizer")
	case deps.Callbacks == nil:
		return nil, errors.New("runs: missing callback policy")
	}
	s := &Service{store: deps.Store, bus: deps.Bus, authz: deps.Authz, callbacks: deps.Callbacks, now: deps.Now, publishTimeout: 10 * time.Second,
		redeliverAfter: cmp.Or(deps.RedeliverAfter, DefaultRedeliverAfter)}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// clock returns the time now, in UTC, to the microsecond: the precision
// Firestore keeps, so that a time read back equals the time written.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

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
	created, err := s.create(ctx, run, cfg.Schedule.MaxActiveRuns)
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
func (s *Service) DryRun(ctx context.Context, who auth.Caller, need auth.Role, l Launch) (LaunchMessage, *Run, error) {
	logging.Annotate(ctx, slog.Bool("dry_run", true))
	run, cfg, earlier, err := s.prepare(ctx, who, need, l)
	switch {
	case err != nil:
		return LaunchMessage{}, nil, err
	case earlier != nil:
		return LaunchMessage{}, earlier, nil
	}
	if earlier, err := s.earlierLaunch(ctx, run); err != nil || earlier != nil {
		return LaunchMessage{}, earlier, err
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
func (s *Service) prepare(ctx context.Context, who auth.Caller, need auth.Role, l Launch) (Run, *Configuration, *Run, error) {
	kind, ok := KindOf(l.ConfigType)
	if !ok {
		return Run{}, nil, nil, InvalidField("configuration_type", "unknown configuration type %q", l.ConfigType)
	}
	ref := ConfigRef{Environment: l.Environment, Kind: kind, ConfigurationID: l.ConfigurationID}
	role, cfg, err := s.store.LoadLaunch(ctx, l.Account, who.Email, ref)
	if err != nil {
		return Run{}, nil, nil, fmt.Errorf("store.LoadLaunch: %w", err)
	}
	if err := s.authz.Check(who, l.Account, role, need); err != nil {
		return Run{}, nil, nil, err
	}
	key := RandomKey()
	if l.IdempotencyKey != "" {
		key = IdempotentKey(l.Account, l.IdempotencyKey)
	}
	hash := requestHash(kind, l)
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
func (s *Service) refusal(ctx context.Context, cfg *Configuration, l Launch) error {
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
	case errors.Is(err, ErrNotFound):
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
func NewRun(cfg Configuration, key string, now time.Time) Run {
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
func launchable(cfg *Configuration, l Launch) error {
	if cfg == nil {
		return NotFound("configuration %s (%s) not found in environment %s of account %s",
			l.ConfigurationID, l.ConfigType, l.Environment, l.Account)
	}
	if err := cfg.Launchable(); err != nil {
		return err
	}
	if l.JobID != "" && l.JobID != cfg.JobID {
		return InvalidField("job_id", "job_id %q is not the job id of configuration %s (%s)", l.JobID, l.ConfigurationID, cfg.JobID)
	}
	return nil
}

// replay answers a launch whose idempotency key was used before: with the
// first launch's run if the requests are the same, with a conflict if not.
func (s *Service) replay(ctx context.Context, attempt Run) (Run, bool, error) {
	existing, err := s.earlierLaunch(ctx, attempt)
	if err == nil && existing == nil {
		err = fmt.Errorf("store.GetRun: %w", ErrNotFound) // gone since CreateRun found it
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
		return &Error{Kind: ErrConflict, Field: "idempotency_key", Message: fmt.Sprintf(
			"idempotency_key %q was already used by run %s for a different launch request; use a new key",
			attempt.IdempotencyKey, existing.RunID)}
	}
	return nil
}

// requestHash identifies a launch request, so that a replay with the same
// idempotency key can be told apart from a different request reusing it.
func requestHash(kind Kind, l Launch) string {
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
func LaunchMessageOf(run Run, definition map[string]any) LaunchMessage {
	msg := LaunchMessage{
		MessageType:       MessageLaunch,
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

// retry calls write until it succeeds or ctx ends, with a growing pause.
// A message is out: recording it is what keeps the Reaper from sending it
// again, so a Firestore blip is worth waiting out.
func retry(ctx context.Context, write func() error) error {
	pause := 50 * time.Millisecond
	for {
		err := write()
		if err == nil || !errors.Is(err, ErrUnavailable) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
			pause = min(2*pause, time.Second)
		}
	}
}

// RunRef identifies a run together with the configuration it belongs to.
type RunRef struct {
	Account         string
	Environment     string // optional
	Kind            Kind
	ConfigurationID string
	JobID           string // optional
	RunID           string
}

// matches reports whether run is the run ref names. A run of another
// configuration is reported as not found, not as a mismatch, so that a
// caller cannot probe run ids across configurations.
func (ref RunRef) matches(run Run) bool {
	return run.RunID == ref.RunID &&
		run.Kind == ref.Kind &&
		run.ConfigurationID == ref.ConfigurationID &&
		(ref.Environment == "" || run.Environment == ref.Environment) &&
		(ref.JobID == "" || run.JobID == ref.JobID)
}

func (ref RunRef) notFound() error {
	return NotFound("run %s of configuration %s not found in account %s", ref.RunID, ref.ConfigurationID, ref.Account)
}

func (ref RunRef) key() (string, error) {
	key, ok := RunKey(ref.RunID)
	if !ok {
		return "", InvalidField("run_id", "run_id %s", ValidateRunID(ref.RunID))
	}
	return key, nil
}

// Get returns the run ref names.
func (s *Service) Get(ctx context.Context, ref RunRef) (Run, error) {
	key, err := ref.key()
	if err != nil {
		return Run{}, err
	}
	run, err := s.store.GetRun(ctx, ref.Account, key)
	if errors.Is(err, ErrNotFound) {
		return Run{}, ref.notFound()
	}
	if err != nil {
		return Run{}, fmt.Errorf("store.GetRun: %w", err)
	}
	if !ref.matches(run) {
		return Run{}, ref.notFound()
	}
	return run, nil
}

// Watch returns run, which ref names, once it has finished, or as it is
// when wait is over.
func (s *Service) Watch(ctx context.Context, ref RunRef, run Run, wait time.Duration) (Run, error) {
	if run.Status.Final() || wait <= 0 {
		return run, nil
	}
	waitCtx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	watched, err := s.store.WatchRun(waitCtx, ref.Account, run.Key, func(r Run) bool { return r.Status.Final() })
	if err != nil {
		// The wait ended before the listener's first snapshot, or its
		// stream broke: the caller still gets the run as it is now.
		logging.FromContext(ctx).WarnContext(ctx, "waiting for the run ended without a snapshot; reading it again", slog.Any("error", err))
		return s.Get(ctx, ref)
	}
	return watched, nil
}

// EventPage selects a page of a run's events: at most Limit, after After.
type EventPage struct {
	After EventCursor // the zero cursor for the first page
	Limit int
}

// EventCursor is where a page of events ended: the time and id of its
// last event. Events are ordered by both, since several may share a time.
type EventCursor struct {
	At time.Time
	ID string
}

// History returns the run ref names and a page of its recorded events,
// and where the next page starts: nil when this page is the last.
func (s *Service) History(ctx context.Context, ref RunRef, page EventPage) (Run, []Event, *EventCursor, error) {
	run, err := s.Get(ctx, ref)
	if err != nil {
		return Run{}, nil, nil, err
	}
	// One more than the page holds says whether another page follows.
	events, err := s.store.Events(ctx, run.Account, run.Key, EventPage{After: page.After, Limit: page.Limit + 1})
	if err != nil {
		return Run{}, nil, nil, fmt.Errorf("store.Events: %w", err)
	}
	if len(events) <= page.Limit {
		return run, events, nil, nil
	}
	events = events[:page.Limit]
	last := events[len(events)-1]
	return run, events, &EventCursor{At: last.At, ID: last.ID}, nil
}

// Find returns the runs of account that q selects, newest first.
func (s *Service) Find(ctx context.Context, account string, q Query) ([]Run, error) {
	found, err := s.store.QueryRuns(ctx, account, q)
	if err != nil {
		return nil, fmt.Errorf("store.QueryRuns: %w", err)
	}
	return found, nil
}

// SetStatus sets the status of the run ref names on behalf of who, a
// person: unlike an executor's report, it may move a finished run to any
// status, and it stops a pending retry, since the person now decides. The
// change is recorded in the run's events; setting the status a run already
// has changes nothing.
//
// expected, when set, makes it a compare-and-set: the run must still be in
// that status, or nothing changes and the answer is a conflict that says
// what the status is, so that a person cannot overwrite an executor's
// report they have not seen. note, optional, is recorded with the change
// (the event's detail): why the person made it.
func (s *Service) SetStatus(ctx context.Context, who auth.Caller, ref RunRef, status, expected Status, note string) (Run, error) {
	return s.change(ctx, ref, func(r *Run) (Update, error) {
		return s.setStatus(r, who.Email, status, expected, note)
	})
}

func (s *Service) setStatus(r *Run, by string, status, expected Status, detail string) (Update, error) {
	if expected != "" && r.Status != expected {
		return Update{}, StatusConflict(*r, "expected_status", "run %s is %s, not %s as expected; nothing was changed", r.RunID, r.Status, expected)
	}
	if r.Status == status {
		return Update{}, nil
	}
	r.RetryAt = time.Time{}
	return Update{Save: true, Event: s.transition(r, by, status, detail)}, nil
}

// transition moves r to status at now, and returns the event recording it.
func (s *Service) transition(r *Run, by string, status Status, detail string) *Event {
	now := s.clock()
	event := &Event{At: now, By: by, Type: EventStatus, From: r.Status, To: status, Detail: detail}
	switch {
	case status == StatusRunning:
		r.EndDate = time.Time{} // running again: the duration runs on
		if r.Timeout > 0 {
			r.Deadline = now.Add(r.Timeout)
		}
	case r.EndDate.IsZero():
		r.EndDate = now
	}
	// A change between final statuses (FAILED → CHECKED) keeps the end
	// date: acknowledging a failure does not make the run longer.
	if status.Final() {
		r.Deadline = time.Time{}
	}
	r.Status = status
	r.LastUpdateDate = now
	return event
}

// change applies decide to the run ref names, and publishes the status
// change it records, if any.
func (s *Service) change(ctx context.Context, ref RunRef, decide func(*Run) (Update, error)) (Run, error) {
	key, err := ref.key()
	if err != nil {
		return Run{}, err
	}
	released := false
	run, event, err := s.store.UpdateRun(ctx, ref.Account, key, func(r *Run) (Update, error) {
		if !ref.matches(*r) {
			return Update{}, ref.notFound()
		}
		update, err := decide(r)
		if err != nil {
			return update, err
		}
		update = settle(r, update)
		released = update.Release > 0 // the transaction may run again: the last run counts
		return update, nil
	})
	if errors.Is(err, ErrNotFound) {
		return Run{}, ref.notFound()
	}
	if err != nil {
		return Run{}, fmt.Errorf("store.UpdateRun: %w", err)
	}
	logging.Annotate(ctx, slog.String("run_id", run.RunID), slog.String("status", string(run.Status)))
	if event != nil && event.Type == EventStatus {
		s.PublishEvent(ctx, run, *event)
	}
	if released {
		s.admitAfter(ctx, run)
	}
	return run, nil
}

// PublishEvent puts a status change on the run events topic and records
// that it is there. A failure is logged and leaves the event unpublished
// for the Reaper: a workflow waiting on the run still hears of it.
func (s *Service) PublishEvent(ctx context.Context, run Run, event Event) {
	_ = s.publishEvent(ctx, run, event)
}

// publishEvent is PublishEvent, saying whether the event went out.
func (s *Service) publishEvent(ctx context.Context, run Run, event Event) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.publishTimeout)
	defer cancel()
	log := logging.FromContext(ctx).With(slog.String("run_id", run.RunID), slog.String("event_id", event.ID))
	_, err := s.bus.PublishRunEvent(ctx, RunEvent{
		EventID:           event.ID,
		Account:           run.Account,
		Environment:       run.Environment,
		ConfigurationType: string(run.Kind),
		ConfigurationID:   run.ConfigurationID,
		JobID:             run.JobID,
		RunID:             run.RunID,
		Status:            event.To,
		PreviousStatus:    event.From,
		At:                event.At,
		By:                event.By,
		HasCallback:       run.CallbackURL != "",
	})
	if err != nil {
		log.ErrorContext(ctx, "run event not published; it stays unpublished until the Reaper publishes it", slog.Any("error", err))
		return err
	}
	if err := retry(ctx, func() error { return s.store.MarkEventPublished(ctx, run.Account, run.Key, event.ID) }); err != nil {
		log.ErrorContext(ctx, "run event published but not recorded: the Reaper may publish it again", slog.Any("error", err))
	}
	return nil
}
