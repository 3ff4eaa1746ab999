package store

import (
	"context"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runwaydata/runway/shared/alerts"
)

// The PagerDuty alerts open for a configuration (shared/alerts) are one
// document each, written when one is triggered and deleted when it is
// resolved, never on a run's other changes:
//
//	accounts/{account}/incidents/{environment}~{kind}~{configuration id}~{alert}

type incidentDoc struct {
	RunID   string    `firestore:"run_id"`
	EventID string    `firestore:"event_id"`
	At      time.Time `firestore:"at"`
}

// OpenIncident implements alerts.IncidentStore: a noted incident is kept,
// not replaced, so that its first trigger's time stays.
func (s *Store) OpenIncident(ctx context.Context, account, id string, inc alerts.Incident) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, err := s.account(account).Collection("incidents").Doc(id).Create(ctx, incidentDoc{RunID: inc.RunID, EventID: inc.EventID, At: inc.At})
	if status.Code(err) == codes.AlreadyExists {
		return nil
	}
	return classify("store.OpenIncident", err)
}

// Incident implements alerts.IncidentStore.
func (s *Store) Incident(ctx context.Context, account, id string) (alerts.Incident, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	snap, err := s.account(account).Collection("incidents").Doc(id).Get(ctx)
	if status.Code(err) == codes.NotFound {
		return alerts.Incident{}, false, nil
	}
	if err != nil {
		return alerts.Incident{}, false, classify("store.Incident", err)
	}
	var d incidentDoc
	if err := snap.DataTo(&d); err != nil {
		return alerts.Incident{}, false, classify("store.Incident", err)
	}
	return alerts.Incident{RunID: d.RunID, EventID: d.EventID, At: d.At.UTC()}, true, nil
}

// CloseIncident implements alerts.IncidentStore.
func (s *Store) CloseIncident(ctx context.Context, account, id string) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, err := s.account(account).Collection("incidents").Doc(id).Delete(ctx)
	return classify("store.CloseIncident", err)
}
