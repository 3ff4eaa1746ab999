package daglaunch_test

import (
	"testing"

	"github.com/runwaydata/runway/shared/stacktest"
	"github.com/runwaydata/runway/shared/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestSmoke(t *testing.T) {
	s := stacktest.New(t)
	s.Seed(t)
	resp := s.Post(t, "/v1/dag/launch", `{"action":"launch_job","account":"000099","environment":"DEV","configuration_type":"table-to-table","configuration_id":"000099_iowa_liquor_prepare_pda_DEV"}`)
	t.Log(resp)
	resp = s.Post(t, "/v1/dag/status", `{"action":"get_last_status","account":"000099","environment":"DEV","configuration_type":"table-to-table","configuration_id":"000099_iowa_liquor_prepare_pda_DEV"}`)
	t.Log(resp)
}
