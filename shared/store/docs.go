package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/runwaydata/runway/shared/auth"
	"github.com/runwaydata/runway/shared/callbacks"
	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/runs"
)

// runDoc is a run as stored. Optional times are pointers so that an unset
// time is an absent field, not the zero time.
type runDoc struct {
	RunID              string     `firestore:"run_id"`
	Account            string     `firestore:"account"`
	Environment        string     `firestore:"environment"`
	ConfigurationType  string     `firestore:"configuration_type"`
	Kind               string     `firestore:"kind"`
	ConfigurationID    string     `firestore:"configuration_id"`
	ConfigKey          string     `firestore:"config_key"` // see ConfigKey: the field get_last_status filters on
	JobID              string     `firestore:"job_id"`
	Status             string     `firestore:"status"`
	ExecutionDate      string     `firestore:"execution_date"`
	StartExecutionDate time.Time  `firestore:"start_execution_date"`
	LastUpdateDate     *time.Time `firestore:"last_update_date,omitempty"`
	EndDate            *time.Time `firestore:"end_date,omitempty"`
	TriggerType        string     `firestore:"trigger_type"`
	StartedBy          string     `firestore:"started_by"`
	TriggerRunIDs      []string   `firestore:"trigger_run_ids,omitempty"`
	Attempt            int        `firestore:"attempt"`
	ParentRunID        string     `firestore:"parent_run_id,omitempty"`
	AuditID            int64      `firestore:"audit_id"`
	IdempotencyKey     string     `firestore:"idempotency_key,omitempty"`
	RequestHash        string     `firestore:"request_hash,omitempty"`
	// Parameters is kept as the JSON text the launcher sent: Firestore
	// maps cannot hold every JSON object (empty keys, reserved names) and
	// would turn big integers into floats.
	Parameters  string `firestore:"parameters,omitempty"`
	CallbackURL string `firestore:"callback_url,omitempty"`
	// Shard is the run's shard (RunShards): the Reaper's queries each read
	// one shard's range of their index.
	Shard int `firestore:"shard"`
	// Lane is the run's lane (RunLanes, RunLane): the account's and the
	// configuration's runs queries each read every lane's range of their
	// index. Set at the creation, from the key, so it never changes; runs
	// from before lanes have none (no deployment held any: no migration).
	Lane int `firestore:"lane"`
	// DeliverBy exists only while the run's launch message awaits its
	// claim (runs.Run.DeliveryDue), which keeps the Reaper's index of it
	// small: the claim, which writes the run anyway, removes it.
	DeliverBy  *time.Time `firestore:"deliver_by,omitempty"`
	Deliveries int        `firestore:"deliveries,omitempty"`
	// Runs from before claims confirmed deliveries recorded the publish.
	PublishedAt     *time.Time `firestore:"published_at,omitempty"`
	PubSubMessageID string     `firestore:"pubsub_message_id,omitempty"`
	// Admission (runs.Run): queued is present, true, only while the run
	// waits for a slot, which keeps the queue queries' indexes small.
	Queued     bool       `firestore:"queued,omitempty"`
	QueuedAt   *time.Time `firestore:"queued_at,omitempty"`
	Slot       int        `firestore:"slot,omitempty"`
	AdmittedAt *time.Time `firestore:"admitted_at,omitempty"`
	Slots      int        `firestore:"max_active_runs,omitempty"`

	ClaimedBy     string         `firestore:"claimed_by,omitempty"`
	ClaimCaller   string         `firestore:"claim_caller,omitempty"`
	Heartbeats    int            `firestore:"heartbeats"`
	LastHeartbeat *time.Time     `firestore:"last_heartbeat,omitempty"`
	Error         *runs.RunError `firestore:"error,omitempty"`
	Metrics       any            `firestore:"metrics,omitempty"` // see encodeObject

	// The execution policy; deadline and retry_at exist only while the
	// Reaper has something to do with the run, which keeps its queries small.
	TimeoutMillis    int64      `firestore:"timeout_ms,omitempty"`
	Deadline         *time.Time `firestore:"deadline,omitempty"`
	Retries          int        `firestore:"retries,omitempty"`
	RetryDelayMillis int64      `firestore:"retry_delay_ms,omitempty"`
	RetryAt          *time.Time `firestore:"retry_at,omitempty"`
	RetryRunID       string     `firestore:"retry_run_id,omitempty"`
	// ExpireAt is when Firestore's TTL policy deletes the run.
	ExpireAt time.Time `firestore:"expire_at"`
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func valueOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// encodeObject stores a free-form JSON object (a definition, an executor's
// metrics) as its JSON text. A Firestore map cannot hold every JSON object
// the API accepts (nesting past 20 levels, an array in an array, an empty
// or reserved key such as __name__: each a 500 when it was stored as a
// map), and would index every one of its fields; the text holds any
// object, and no query needs to look inside. nil stays absent.
func encodeObject(v map[string]any) any {
	if v == nil {
		return nil
	}
	text, err := json.Marshal(v)
	if err != nil {
		// Unreachable for what a JSON decoder made; keep the map, which
		// fails loudly at the write if it cannot be stored.
		return v
	}
	return string(text)
}

// decodeObject reads what encodeObject stored, or the map documents written
// before it hold.
func decodeObject(v any) (map[string]any, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case map[string]any:
		return v, nil
	case string:
		var m map[string]any
		if err := json.Unmarshal([]byte(v), &m); err != nil {
			return nil, err
		}
		return m, nil
	}
	return nil, fmt.Errorf("a %T where a JSON object was stored", v)
}

func rawJSON(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

// encodeRun is r as stored, with the time Firestore deletes it at.
func (s *Store) encodeRun(r runs.Run) runDoc {
	d := encodeRun(r)
	d.ExpireAt = r.StartExecutionDate.Add(s.retention)
	return d
}

func encodeRun(r runs.Run) runDoc {
	return runDoc{
		RunID:              r.RunID,
		Account:            r.Account,
		Environment:        r.Environment,
		ConfigurationType:  r.ConfigurationType,
		Kind:               string(r.Kind),
		ConfigurationID:    r.ConfigurationID,
		ConfigKey:          ConfigKey(r.ConfigRef()),
		JobID:              r.JobID,
		Status:             string(r.Status),
		ExecutionDate:      r.ExecutionDate,
		StartExecutionDate: r.StartExecutionDate,
		LastUpdateDate:     optionalTime(r.LastUpdateDate),
		EndDate:            optionalTime(r.EndDate),
		TriggerType:        r.TriggerType,
		StartedBy:          r.StartedBy,
		TriggerRunIDs:      r.TriggerRunIDs,
		Attempt:            r.Attempt,
		ParentRunID:        r.ParentRunID,
		AuditID:            r.AuditID,
		IdempotencyKey:     r.IdempotencyKey,
		RequestHash:        r.RequestHash,
		Parameters:         string(r.Parameters),
		CallbackURL:        r.CallbackURL,
		Shard:              RunShard(r.Key),
		Lane:               RunLane(r.Key),
		DeliverBy:          optionalTime(r.DeliveryDue()),
		Deliveries:         r.Deliveries,
		PublishedAt:        optionalTime(r.PublishedAt),
		PubSubMessageID:    r.MessageID,
		Queued:             r.Queued,
		QueuedAt:           optionalTime(r.QueuedAt),
		Slot:               r.Slot,
		AdmittedAt:         optionalTime(r.AdmittedAt),
		Slots:              r.MaxActiveRuns,
		ClaimedBy:          r.ClaimedBy,
		ClaimCaller:        r.ClaimCaller,
		Heartbeats:         r.Heartbeats,
		LastHeartbeat:      optionalTime(r.LastHeartbeat),
		Error:              r.Error,
		Metrics:            encodeObject(r.Metrics),
		TimeoutMillis:      r.Timeout.Milliseconds(),
		Deadline:           optionalTime(r.Deadline),
		Retries:            r.Retries,
		RetryDelayMillis:   r.RetryDelay.Milliseconds(),
		RetryAt:            optionalTime(r.RetryAt),
		RetryRunID:         r.RetryRunID,
	}
}

func decodeRun(snap *firestore.DocumentSnapshot) (runs.Run, error) {
	var d runDoc
	if err := snap.DataTo(&d); err != nil {
		return runs.Run{}, fmt.Errorf("store: decode run %s: %w", snap.Ref.Path, err)
	}
	metrics, err := decodeObject(d.Metrics)
	if err != nil {
		return runs.Run{}, fmt.Errorf("store: decode the metrics of run %s: %w", snap.Ref.Path, err)
	}
	return runs.Run{
		Key:                snap.Ref.ID,
		RunID:              d.RunID,
		Account:            d.Account,
		Environment:        d.Environment,
		ConfigurationType:  d.ConfigurationType,
		Kind:               configs.Kind(d.Kind),
		ConfigurationID:    d.ConfigurationID,
		JobID:              d.JobID,
		Status:             runs.Status(d.Status),
		ExecutionDate:      d.ExecutionDate,
		StartExecutionDate: d.StartExecutionDate.UTC(),
		LastUpdateDate:     valueOf(d.LastUpdateDate),
		EndDate:            valueOf(d.EndDate),
		TriggerType:        d.TriggerType,
		StartedBy:          d.StartedBy,
		TriggerRunIDs:      d.TriggerRunIDs,
		Attempt:            d.Attempt,
		ParentRunID:        d.ParentRunID,
		AuditID:            d.AuditID,
		IdempotencyKey:     d.IdempotencyKey,
		RequestHash:        d.RequestHash,
		Parameters:         rawJSON(d.Parameters),
		CallbackURL:        d.CallbackURL,
		DeliverBy:          valueOf(d.DeliverBy),
		Deliveries:         d.Deliveries,
		PublishedAt:        valueOf(d.PublishedAt),
		MessageID:          d.PubSubMessageID,
		Queued:             d.Queued,
		QueuedAt:           valueOf(d.QueuedAt),
		Slot:               d.Slot,
		AdmittedAt:         valueOf(d.AdmittedAt),
		MaxActiveRuns:      d.Slots,
		ClaimedBy:          d.ClaimedBy,
		ClaimCaller:        d.ClaimCaller,
		Heartbeats:         d.Heartbeats,
		LastHeartbeat:      valueOf(d.LastHeartbeat),
		Error:              d.Error,
		Metrics:            metrics,
		Timeout:            time.Duration(d.TimeoutMillis) * time.Millisecond,
		Deadline:           valueOf(d.Deadline),
		Retries:            d.Retries,
		RetryDelay:         time.Duration(d.RetryDelayMillis) * time.Millisecond,
		RetryAt:            valueOf(d.RetryAt),
		RetryRunID:         d.RetryRunID,
	}, nil
}

type configDoc struct {
	Account           string       `firestore:"account"`
	Environment       string       `firestore:"environment"`
	ConfigurationType string       `firestore:"configuration_type"`
	Kind              string       `firestore:"kind"`
	ConfigurationID   string       `firestore:"configuration_id"`
	JobID             string       `firestore:"job_id"`
	Activated         bool         `firestore:"activated"`
	Archived          bool         `firestore:"archived"`
	Definition        any          `firestore:"definition"` // see encodeObject
	Workflow          *workflowDoc `firestore:"workflow,omitempty"`
	TimeoutMillis     int64        `firestore:"timeout_ms,omitempty"`
	Retries           int          `firestore:"retries,omitempty"`
	RetryDelayMillis  int64        `firestore:"retry_delay_ms,omitempty"`
	TriggerKeys       []string     `firestore:"trigger_keys,omitempty"` // see triggerKey
	// The schedule, read from the definition at deploy, and where it
	// stands. next_tick is present only while ticks run (scheduled,
	// activated, not archived): the Scheduler's query finds it by
	// (schedule_shard, next_tick), and no other configuration is in that
	// index.
	ScheduleInterval string     `firestore:"schedule_interval,omitempty"`
	StartDate        *time.Time `firestore:"start_date,omitempty"`
	Catchup          bool       `firestore:"catchup,omitempty"`
	MaxActiveRuns    int        `firestore:"max_active_runs,omitempty"`
	NextTick         *time.Time `firestore:"next_tick,omitempty"`
	LastTick         *time.Time `firestore:"last_tick,omitempty"`
	ScheduleShard    int        `firestore:"schedule_shard"`
	Version          int        `firestore:"version"`
	UpdatedBy        string     `firestore:"updated_by"`
	UpdatedAt        time.Time  `firestore:"updated_at"`
}

// workflowDoc is a workflow's parsed definition, kept beside it.
type workflowDoc struct {
	AuthorizedJobIDs      []string `firestore:"authorized_job_ids"`
	TargetKind            string   `firestore:"target_kind"`
	TargetType            string   `firestore:"target_configuration_type"`
	TargetConfigurationID string   `firestore:"target_configuration_id"`
	TargetJobID           string   `firestore:"target_job_id"`
	ResetSchedule         string   `firestore:"schedule_interval_reset,omitempty"`
}

func encodeConfig(c configs.Configuration) configDoc {
	var wf *workflowDoc
	var keys []string
	if w := c.Workflow; w != nil {
		wf = &workflowDoc{AuthorizedJobIDs: w.AuthorizedJobIDs, TargetKind: string(w.Target.Kind), TargetType: w.TargetType,
			TargetConfigurationID: w.Target.ConfigurationID, TargetJobID: w.TargetJobID, ResetSchedule: w.ResetSchedule}
		for _, job := range w.AuthorizedJobIDs {
			keys = append(keys, triggerKey(c.Environment, job))
		}
	}
	return configDoc{
		Workflow:          wf,
		TimeoutMillis:     c.Policy.Timeout.Milliseconds(),
		Retries:           c.Policy.Retries,
		RetryDelayMillis:  c.Policy.RetryDelay.Milliseconds(),
		TriggerKeys:       keys,
		ScheduleInterval:  c.Schedule.Interval,
		StartDate:         optionalTime(c.Schedule.Start),
		Catchup:           c.Schedule.Catchup,
		MaxActiveRuns:     c.Schedule.MaxActiveRuns,
		NextTick:          optionalTime(c.Ticks.Next),
		LastTick:          optionalTime(c.Ticks.Last),
		ScheduleShard:     ScheduleShard(c.Ref()),
		Account:           c.Account,
		Environment:       c.Environment,
		ConfigurationType: c.ConfigurationType,
		Kind:              string(c.Kind),
		ConfigurationID:   c.ConfigurationID,
		JobID:             c.JobID,
		Activated:         c.Activated,
		Archived:          c.Archived,
		Definition:        encodeObject(c.Definition),
		Version:           c.Version,
		UpdatedBy:         c.UpdatedBy,
		UpdatedAt:         c.UpdatedAt,
	}
}

func decodeConfig(snap *firestore.DocumentSnapshot) (configs.Configuration, error) {
	var d configDoc
	if err := snap.DataTo(&d); err != nil {
		return configs.Configuration{}, fmt.Errorf("store: decode configuration %s: %w", snap.Ref.Path, err)
	}
	definition, err := decodeObject(d.Definition)
	if err != nil {
		return configs.Configuration{}, fmt.Errorf("store: decode the definition of configuration %s: %w", snap.Ref.Path, err)
	}
	cfg := configs.Configuration{
		Account:           d.Account,
		Environment:       d.Environment,
		ConfigurationType: d.ConfigurationType,
		Kind:              configs.Kind(d.Kind),
		ConfigurationID:   d.ConfigurationID,
		JobID:             d.JobID,
		Activated:         d.Activated,
		Archived:          d.Archived,
		Definition:        definition,
		Policy: configs.Policy{Timeout: time.Duration(d.TimeoutMillis) * time.Millisecond, Retries: d.Retries,
			RetryDelay: time.Duration(d.RetryDelayMillis) * time.Millisecond},
		Schedule: configs.Schedule{Interval: d.ScheduleInterval, Start: valueOf(d.StartDate), Catchup: d.Catchup,
			MaxActiveRuns: max(d.MaxActiveRuns, 1)},
		Ticks:     configs.Ticks{Next: valueOf(d.NextTick), Last: valueOf(d.LastTick)},
		Revision:  snap.UpdateTime,
		Version:   d.Version,
		UpdatedBy: d.UpdatedBy,
		UpdatedAt: d.UpdatedAt.UTC(),
	}
	if w := d.Workflow; w != nil {
		cfg.Workflow = &configs.WorkflowSpec{AuthorizedJobIDs: w.AuthorizedJobIDs, TargetType: w.TargetType, TargetJobID: w.TargetJobID,
			Target:        configs.ConfigRef{Environment: d.Environment, Kind: configs.Kind(w.TargetKind), ConfigurationID: w.TargetConfigurationID},
			ResetSchedule: w.ResetSchedule}
	}
	return cfg, nil
}

type memberDoc struct {
	Email     string    `firestore:"email"`
	Role      string    `firestore:"role"`
	UpdatedBy string    `firestore:"updated_by"`
	UpdatedAt time.Time `firestore:"updated_at"`
}

func (d memberDoc) member() auth.Member {
	role, _ := auth.ParseRole(d.Role)
	return auth.Member{Email: d.Email, Role: role, UpdatedBy: d.UpdatedBy, UpdatedAt: d.UpdatedAt.UTC()}
}

// roleOf reads a member document's role. An unknown role grants nothing.
func roleOf(snap *firestore.DocumentSnapshot) auth.Role {
	name, _ := snap.Data()["role"].(string)
	role, _ := auth.ParseRole(name)
	return role
}

type eventDoc struct {
	At        time.Time `firestore:"at"`
	By        string    `firestore:"by"`
	Type      string    `firestore:"type"`
	From      string    `firestore:"from,omitempty"`
	To        string    `firestore:"to,omitempty"`
	Detail    string    `firestore:"detail,omitempty"`
	Published bool      `firestore:"published"`
	// Shard is the run's shard, only while the event is unpublished: the
	// Reaper's query for unpublished events reads one shard at a time.
	Shard *int `firestore:"shard,omitempty"`
	// ExpireAt is when Firestore's TTL policy deletes the event.
	ExpireAt time.Time `firestore:"expire_at"`
}

// encodeEvent is e, an event of the run with key runKey, as stored, with
// the time Firestore deletes it at.
func (s *Store) encodeEvent(runKey string, e runs.Event) eventDoc {
	d := encodeEvent(e)
	d.ExpireAt = e.At.Add(s.retention)
	if !e.Published {
		shard := RunShard(runKey)
		d.Shard = &shard
	}
	return d
}

func encodeEvent(e runs.Event) eventDoc {
	return eventDoc{At: e.At, By: e.By, Type: e.Type, From: string(e.From), To: string(e.To), Detail: e.Detail, Published: e.Published}
}

func (d eventDoc) event(id string) runs.Event {
	return runs.Event{ID: id, At: d.At.UTC(), By: d.By, Type: d.Type, From: runs.Status(d.From), To: runs.Status(d.To),
		Detail: d.Detail, Published: d.Published}
}

// callbackSettingsDoc is accounts/{account}/settings/callbacks.
type callbackSettingsDoc struct {
	AllowedHosts []string            `firestore:"allowed_hosts"`
	Secrets      []callbackSecretDoc `firestore:"secrets"`
	UpdatedBy    string              `firestore:"updated_by"`
	UpdatedAt    time.Time           `firestore:"updated_at"`
}

// callbackSecretDoc is a signing secret as stored: sealed (see
// callbacks.Sealer), never in plain text. Value, the secret in plain
// text, is only read, from documents written before secrets were sealed;
// the next change of the account's settings seals it.
type callbackSecretDoc struct {
	ID        string    `firestore:"id"`
	Sealed    []byte    `firestore:"sealed,omitempty"`
	Value     string    `firestore:"value,omitempty"`
	CreatedAt time.Time `firestore:"created_at"`
	CreatedBy string    `firestore:"created_by"`
}

// errUnsealedSecret refuses to store a secret in plain text.
var errUnsealedSecret = errors.New("store: a callback secret is not sealed; it is never stored in plain text")

func encodeCallbackSettings(s callbacks.Settings, by string, at time.Time) (callbackSettingsDoc, error) {
	d := callbackSettingsDoc{AllowedHosts: s.AllowedHosts, Secrets: []callbackSecretDoc{}, UpdatedBy: by, UpdatedAt: at}
	if d.AllowedHosts == nil {
		d.AllowedHosts = []string{}
	}
	for _, sec := range s.Secrets {
		if len(sec.Sealed) == 0 {
			return callbackSettingsDoc{}, fmt.Errorf("%w: %s", errUnsealedSecret, sec.ID)
		}
		d.Secrets = append(d.Secrets, callbackSecretDoc{ID: sec.ID, Sealed: sec.Sealed, CreatedAt: sec.CreatedAt, CreatedBy: sec.CreatedBy})
	}
	return d, nil
}

func decodeCallbackSettings(snap *firestore.DocumentSnapshot) (callbacks.Settings, error) {
	if !snap.Exists() {
		return callbacks.Settings{}, nil
	}
	var d callbackSettingsDoc
	if err := snap.DataTo(&d); err != nil {
		return callbacks.Settings{}, fmt.Errorf("store: decode %s: %w", snap.Ref.Path, err)
	}
	s := callbacks.Settings{AllowedHosts: d.AllowedHosts}
	for _, sec := range d.Secrets {
		secret := callbacks.Secret{ID: sec.ID, Sealed: sec.Sealed, CreatedAt: sec.CreatedAt.UTC(), CreatedBy: sec.CreatedBy}
		if len(sec.Sealed) == 0 {
			secret.Sealed, secret.Value = nil, sec.Value
		}
		s.Secrets = append(s.Secrets, secret)
	}
	return s, nil
}
