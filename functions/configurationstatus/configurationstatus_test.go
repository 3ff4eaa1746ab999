package configurationstatus_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/stacktest"
	"github.com/runwaydata/runway/shared/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func setStatus(activated, archived string) string {
	return `{"action": "set_configuration_status", "activated": ` + activated + `, "archived": ` + archived + `,
		"account": "000099", "environment": "DEV", "configuration_type": "table-to-table",
		"configuration_id": "000099_Load_PDA_f_traffic_ma_DEV"}`
}

const launch = `{"action": "launch_job", "account": "000099", "environment": "DEV", "configuration_type": "table-to-table",
	"configuration_id": "000099_Load_PDA_f_traffic_ma_DEV"}`

func TestDisableEnableArchive(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	steps := []struct {
		activated, archived string
		launch              int
		message             string
	}{
		{"false", "false", http.StatusConflict, "deactivated"},
		{"true", "false", http.StatusOK, ""},
		{"false", "true", http.StatusConflict, "archived"},
		{"true", "true", http.StatusConflict, "archived"}, // archived wins over activated
		{"true", "false", http.StatusOK, ""},
	}
	for _, step := range steps {
		var ok api.OK
		s.Post(t, "/v1/configuration/status", setStatus(step.activated, step.archived)).Decode(t, &ok)
		if ok.Message != "ok" {
			t.Fatalf("set_configuration_status = %+v", ok)
		}
		resp := s.Post(t, "/v1/dag/launch", launch)
		if step.launch == http.StatusOK {
			resp.Decode(t, &api.LaunchResponse{})
			continue
		}
		if e := resp.WantError(t, step.launch); !strings.Contains(e.Message, step.message) {
			t.Errorf("activated=%s archived=%s: launch refused with %q, want it to say %s", step.activated, step.archived, e.Message, step.message)
		}
	}
	var got api.ConfigurationResponse
	s.Post(t, "/v1/configuration", `{"action": "get_configuration", "account": "000099", "environment": "DEV",
		"configuration_type": "table-to-table", "configuration_id": "000099_Load_PDA_f_traffic_ma_DEV"}`).Decode(t, &got)
	if !got.Configuration.Activated || got.Configuration.Archived || got.Configuration.UpdatedBy != stacktest.Admin {
		t.Errorf("configuration after the changes = %+v", got.Configuration)
	}
}

func TestBadStatusRequests(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t)
	s.Seed(t)
	before := s.Snapshot(t, "000099")
	s.Post(t, "/v1/configuration/status", strings.Replace(setStatus("false", "false"), "000099_Load_PDA_f_traffic_ma_DEV", "missing_DEV", 1)).
		WantError(t, http.StatusNotFound)
	s.Post(t, "/v1/configuration/status", `{"action": "set_configuration_status", "account": "000099", "environment": "DEV",
		"configuration_type": "table-to-table", "configuration_id": "000099_Load_PDA_f_traffic_ma_DEV"}`).
		WantError(t, http.StatusBadRequest, "activated", "archived")
	s.Post(t, "/v1/configuration/status", setStatus(`"false"`, "false")).WantError(t, http.StatusBadRequest, "activated")
	s.Post(t, "/v1/configuration/status", setStatus("0", "false")).WantError(t, http.StatusBadRequest, "activated")
	if len(before) != len(s.Snapshot(t, "000099")) {
		t.Error("refused status changes wrote something")
	}
}
