package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runwaydata/runway/shared/configs"
)

// The types of configuration event.
const (
	configDeployed = "deployed"
	configStatus   = "status"
)

// configEventDoc records a deploy (with the definition deployed: the
// version history) or a status change of a configuration, in the
// configuration's events subcollection.
type configEventDoc struct {
	Type       string    `firestore:"type"`
	At         time.Time `firestore:"at"`
	By         string    `firestore:"by"`
	Version    int       `firestore:"version"`
	Activated  bool      `firestore:"activated"`
	Archived   bool      `firestore:"archived"`
	Definition any       `firestore:"definition,omitempty"` // see encodeObject
}

// txReader reads configurations within a transaction.
type txReader struct {
	s       *Store
	tx      *firestore.Transaction
	account string
}

func (r txReader) Configuration(ref configs.ConfigRef) (*configs.Configuration, error) {
	snap, err := r.tx.Get(r.s.configRef(r.account, ref))
	if status.Code(err) == codes.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	cfg, err := decodeConfig(snap)
	return &cfg, err
}

func (r txReader) Workflows(environment string) ([]configs.Configuration, error) {
	snaps, err := r.tx.Documents(r.s.configurations(r.account).
		Where("kind", "==", string(configs.KindWorkflow)).Where("environment", "==", environment)).GetAll()
	if err != nil {
		return nil, err
	}
	return decodeConfigs(snaps)
}

func decodeConfigs(snaps []*firestore.DocumentSnapshot) ([]configs.Configuration, error) {
	out := make([]configs.Configuration, 0, len(snaps))
	for _, snap := range snaps {
		cfg, err := decodeConfig(snap)
		if err != nil {
			return nil, err
		}
		out = append(out, cfg)
	}
	return out, nil
}

// DeployConfiguration implements configs.Store.
func (s *Store) DeployConfiguration(ctx context.Context, cfg configs.Configuration, dryRun bool, check func(r configs.Reader, prev, next *configs.Configuration) error) (configs.Configuration, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	ref := s.configRef(cfg.Account, cfg.Ref())
	var deployed configs.Configuration
	err := s.client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		c := cfg // the function may run again after a conflict
		var prev *configs.Configuration
		snap, err := tx.Get(ref)
		switch {
		case status.Code(err) == codes.NotFound:
			c.Version = 1
		case err != nil:
			return err
		default:
			p, err := decodeConfig(snap)
			if err != nil {
				return err
			}
			prev, c.Version = &p, p.Version+1
		}
		if err := check(txReader{s: s, tx: tx, account: cfg.Account}, prev, &c); err != nil {
			return err
		}
		deployed = c
		if dryRun {
			return errDryRun // rolls the transaction back: nothing is written
		}
		if err := tx.Set(ref, encodeConfig(c)); err != nil {
			return err
		}
		return tx.Create(ref.Collection("events").NewDoc(), configEventDoc{Type: configDeployed, At: c.UpdatedAt, By: c.UpdatedBy,
			Version: c.Version, Activated: c.Activated, Archived: c.Archived, Definition: encodeObject(c.Definition)})
	})
	if err != nil && !errors.Is(err, errDryRun) {
		return configs.Configuration{}, classifyTx("store.DeployConfiguration", err)
	}
	return deployed, nil
}

// errDryRun ends the transaction of a dry run, which writes nothing.
var errDryRun = errors.New("dry run")

// GetConfiguration implements configs.Store.
func (s *Store) GetConfiguration(ctx context.Context, account string, ref configs.ConfigRef) (configs.Configuration, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	snap, err := s.configRef(account, ref).Get(ctx)
	if err != nil {
		return configs.Configuration{}, classify("store.GetConfiguration", err)
	}
	return decodeConfig(snap)
}

// ListConfigurations implements configs.Store. Its queries have equality
// filters only, ordered by document key, which Firestore serves by merging
// single-field indexes: no composite index is needed.
func (s *Store) ListConfigurations(ctx context.Context, account string, f configs.Filter, limit int, after string) ([]configs.Configuration, string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	q := s.configurations(account).Query
	if f.Environment != "" {
		q = q.Where("environment", "==", f.Environment)
	}
	if f.Kind != "" {
		q = q.Where("kind", "==", string(f.Kind))
	}
	if f.Activated != nil {
		q = q.Where("activated", "==", *f.Activated)
	}
	q = q.OrderBy(firestore.DocumentID, firestore.Asc).Limit(limit + 1)
	if after != "" {
		q = q.StartAfter(after)
	}
	snaps, err := q.Documents(ctx).GetAll()
	if err != nil {
		return nil, "", classify("store.ListConfigurations", err)
	}
	next := ""
	if len(snaps) > limit {
		snaps = snaps[:limit]
		next = snaps[limit-1].Ref.ID
	}
	list, err := decodeConfigs(snaps)
	return list, next, err
}

// SetConfigurationStatus implements configs.Store: in one transaction,
// change sets the configuration's flags and ticks, which are written with
// an event recording the change.
func (s *Store) SetConfigurationStatus(ctx context.Context, account string, ref configs.ConfigRef, change func(*configs.Configuration)) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	doc := s.configRef(account, ref)
	err := s.client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(doc)
		if err != nil {
			return err
		}
		c, err := decodeConfig(snap)
		if err != nil {
			return err
		}
		change(&c)
		if err := tx.Update(doc, []firestore.Update{
			{Path: "activated", Value: c.Activated},
			{Path: "archived", Value: c.Archived},
			{Path: "next_tick", Value: nullableTime(c.Ticks.Next)},
			{Path: "updated_by", Value: c.UpdatedBy},
			{Path: "updated_at", Value: c.UpdatedAt},
		}); err != nil {
			return err
		}
		return tx.Create(doc.Collection("events").NewDoc(), configEventDoc{Type: configStatus, At: c.UpdatedAt, By: c.UpdatedBy,
			Version: c.Version, Activated: c.Activated, Archived: c.Archived})
	})
	if err != nil {
		return classifyTx(fmt.Sprintf("store.SetConfigurationStatus %s", ref.ConfigurationID), err)
	}
	return nil
}

// WorkflowsWaitingOn returns the workflows of an environment that list
// jobID among their authorized jobs.
func (s *Store) WorkflowsWaitingOn(ctx context.Context, account, environment, jobID string) ([]configs.Configuration, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	snaps, err := s.configurations(account).
		Where("trigger_keys", "array-contains", triggerKey(environment, jobID)).Documents(ctx).GetAll()
	if err != nil {
		return nil, classify("store.WorkflowsWaitingOn", err)
	}
	return decodeConfigs(snaps)
}

// triggerKey is what a workflow's trigger_keys field holds for each of its
// authorized jobs: one array-contains query then finds the workflows of an
// environment waiting on a job.
func triggerKey(environment, jobID string) string { return environment + "|" + jobID }

// FindConfigurations returns the configurations of account with the given
// configuration_id, in every environment and of every type.
func (s *Store) FindConfigurations(ctx context.Context, account, configurationID string) ([]configs.Configuration, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	snaps, err := s.configurations(account).Where("configuration_id", "==", configurationID).Documents(ctx).GetAll()
	if err != nil {
		return nil, classify("store.FindConfigurations", err)
	}
	return decodeConfigs(snaps)
}

// PutConfiguration creates or replaces a configuration.
func (s *Store) PutConfiguration(ctx context.Context, cfg configs.Configuration) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	ref := configs.ConfigRef{Environment: cfg.Environment, Kind: cfg.Kind, ConfigurationID: cfg.ConfigurationID}
	_, err := s.configRef(cfg.Account, ref).Set(ctx, encodeConfig(cfg))
	return classify("store.PutConfiguration", err)
}
