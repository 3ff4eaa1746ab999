package scripts_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDevScript runs the README's first command as a newcomer would:
// scripts/dev.sh must come up, print a curl that works when pasted, refuse
// a port that is taken, and stop everything on Ctrl-C.
func TestDevScript(t *testing.T) {
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("this test pastes the printed curl into bash: %s is required", tool)
		}
	}
	port := freePort(t)
	start := time.Now()
	cmd := exec.Command("./dev.sh")
	cmd.Env = append(os.Environ(), "RUNWAY_PORT="+strconv.Itoa(port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				t.Error("dev.sh did not stop within 20s of Ctrl-C")
			}
		}
	}
	defer stop()

	banner := readBanner(t, out, 3*time.Minute)
	t.Logf("scripts/dev.sh was ready %.1fs after it started (build included)", time.Since(start).Seconds())

	token := regexp.MustCompile(`(?m)^export TAILER_API_JWT=(\S+)$`).FindStringSubmatch(banner)
	curl := regexp.MustCompile(`(?s)\ncurl --request POST.*?/v1/dag/status"\n`).FindString(banner)
	if token == nil || curl == "" {
		t.Fatalf("the banner has no token or no curl:\n%s", banner)
	}
	pasted := exec.Command("bash", "-c", "export TAILER_API_JWT="+token[1]+"\n"+curl)
	answer, err := pasted.Output()
	if err != nil {
		t.Fatalf("the printed curl failed: %v\n%s", err, answer)
	}
	var got struct {
		Results []map[string]string `json:"results"`
	}
	if err := json.Unmarshal(answer, &got); err != nil || len(got.Results) != 1 ||
		got.Results[0]["run_id"] != "20201230-112837-0a795c70-2557-4a60-ba16-788aa2bea179" || got.Results[0]["status"] != "SUCCESS" {
		t.Fatalf("the printed curl answered %s", answer)
	}

	// The board's URL is printed beside the curl, and its sign-in page
	// takes the printed token.
	board := regexp.MustCompile(`(?m)^(http://\S+/board/)$`).FindStringSubmatch(banner)
	if board == nil {
		t.Fatalf("the banner has no board URL:\n%s", banner)
	}
	resp, err := http.Get(board[1])
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/board/signin" || !strings.Contains(string(page), `name="token"`) {
		t.Fatalf("the printed board URL answered %d at %s:\n%s", resp.StatusCode, resp.Request.URL, page)
	}

	// A launched demo job is executed by the reference executor and ends
	// in SUCCESS by itself.
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	post := func(path, body string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token[1])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: %d %v", path, resp.StatusCode, out)
		}
		return out
	}
	const job = `"account": "000099", "environment": "DEV", "configuration_type": "table-to-table", "configuration_id": "000099_iowa_liquor_prepare_pda_DEV"`
	runID := post("/v1/dag/launch", `{"action": "launch_job", `+job+`}`)["run_id"].(string)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		results := post("/v1/dag/status", `{"action": "check_run_status", `+job+`, "run_id": "`+runID+`"}`)["results"].([]any)
		if status := results[0].(map[string]any)["status"]; status == "SUCCESS" {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the demo launch is still %v after 30s", status)
		}
	}

	// A run of the demo's configuration with the reference's monitoring
	// block, set to FAILED, sends a mail to the local SMTP server.
	const monitored = `"account": "000099", "environment": "DEV", "configuration_type": "table-to-table", "configuration_id": "000001_append_some_data_DEV"`
	failed := post("/v1/dag/launch", `{"action": "launch_job", `+monitored+`}`)["run_id"].(string)
	post("/v1/dag/status", `{"action": "set_run_status", `+monitored+`, "run_id": "`+failed+`", "status": "FAILED"}`)
	mailDir := regexp.MustCompile(`read it in (\S+)/ `).FindStringSubmatch(banner)
	if mailDir == nil {
		t.Fatalf("the banner does not say where the mail is:\n%s", banner)
	}
	// The mail of this run: another stack of the same checkout (a second
	// test run, say) keeps its mail in the same directory.
	var (
		alert   *mail.Message
		data    []byte
		readErr error // of the last read: another stack of the checkout empties the directory as it starts
	)
	for deadline := time.Now().Add(30 * time.Second); alert == nil; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no mail about run %s in %s 30s after the FAILED (last read: %v)", failed, mailDir[1], readErr)
		}
		mails, _ := filepath.Glob(filepath.Join("..", mailDir[1], "*.eml"))
		for _, name := range mails {
			if data, readErr = os.ReadFile(name); readErr == nil && bytes.Contains(data, []byte("X-Runway-Run-Id: "+failed)) {
				if alert, readErr = mail.ReadMessage(bytes.NewReader(data)); readErr == nil {
					break
				}
			}
		}
	}
	if alert.Header.Get("Subject") != "Data Operation Alert : 000001_append_some_data_DEV has just failed" ||
		alert.Header.Get("To") != "<toto@tailer.ia>, <titi@tailer.ia>" {
		t.Errorf("the alert mail:\n%s", data)
	}

	// A second stack on the same port is refused with a clear message.
	second := exec.Command("./dev.sh")
	second.Env = append(os.Environ(), "RUNWAY_PORT="+strconv.Itoa(port))
	msg, err := second.CombinedOutput()
	if err == nil || !strings.Contains(string(msg), "already in use") {
		t.Errorf("dev.sh on a taken port: %v\n%s", err, msg)
	}

	stop()
	if conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
		conn.Close()
		t.Error("the dev server still answers after Ctrl-C")
	}
	for _, host := range regexp.MustCompile(`Firestore on (\S+), Pub/Sub on (\S+) `).FindStringSubmatch(banner)[1:] {
		if conn, err := net.DialTimeout("tcp", host, time.Second); err == nil {
			conn.Close()
			t.Errorf("an emulator still answers on %s after Ctrl-C", host)
		}
	}
}

// readBanner reads dev.sh's output until the banner's last line.
func readBanner(t *testing.T, out interface{ Read([]byte) (int, error) }, timeout time.Duration) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	lines := make(chan string)
	go func() {
		scanner := bufio.NewScanner(out)
		for scanner.Scan() {
			lines <- scanner.Text()
		}
		close(lines)
	}()
	var b strings.Builder
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("dev.sh exited before it was ready:\n%s", b.String())
			}
			b.WriteString(line + "\n")
			if strings.HasPrefix(line, "Ctrl-C stops") {
				return b.String()
			}
		case <-ctx.Done():
			t.Fatalf("dev.sh was not ready after %v:\n%s", timeout, b.String())
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
