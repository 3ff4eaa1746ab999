// Command emulators runs a command with the Firestore and Pub/Sub
// emulators: it starts both on free local ports, runs the command with
// FIRESTORE_EMULATOR_HOST and PUBSUB_EMULATOR_HOST set, and stops the
// emulators when the command ends, on Ctrl-C, SIGTERM or SIGHUP (the
// terminal closing). Killed outright, it takes the emulators with it.
//
//	go run ./scripts/emulators -- go test ./...
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/runwaydata/runway/shared/emulators"
)

func main() {
	logDir := flag.String("logs", ".runway/logs", "directory for the emulators' logs")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: emulators [-logs DIR] -- COMMAND [ARG...]")
		os.Exit(2)
	}
	os.Exit(run(*logDir, flag.Args()))
}

func run(logDir string, args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	em, err := emulators.Start(ctx, logDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer em.Stop()
	fmt.Fprintf(os.Stderr, "emulators: Firestore on %s, Pub/Sub on %s (logs in %s)\n", em.FirestoreHost, em.PubSubHost, logDir)

	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), em.Env()...)
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// Pass SIGINT, SIGTERM and SIGHUP on to the command as SIGTERM (Ctrl-C
	// in a terminal reaches it anyway) and wait for it to finish before the
	// emulators go away.
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			_ = cmd.Process.Signal(syscall.SIGTERM)
		case <-done:
		}
	}()
	err = cmd.Wait()
	close(done)
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		if exit.ExitCode() < 0 {
			return 1 // killed by a signal
		}
		return exit.ExitCode()
	case err != nil:
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
