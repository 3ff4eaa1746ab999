package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/runwaydata/runway/shared/tokens"
)

// tokenLifetime is how long the CLI uses a token it made before making
// another: well within the hour a service account's token lasts, so that
// a long --wait never sends an expired one.
const tokenLifetime = 30 * time.Minute

// client returns the API client the settings resolve to.
func (a *app) client() (*client, error) {
	if a.api != nil {
		return a.api, nil
	}
	p, err := a.profile()
	if err != nil {
		return nil, err
	}
	token, err := a.tokenFunc(p)
	if err != nil {
		return nil, err
	}
	a.api = &client{base: a.apiURL(p), token: token, http: a.http, sleep: sleep}
	return a.api, nil
}

// tokenFunc returns what makes the token to send: the one given by
// --token, RUNWAY_TOKEN or TAILER_API_JWT, else the profile's login.
func (a *app) tokenFunc(p *profile) (func(context.Context) (string, error), error) {
	if t := firstSet(a.flags.token, a.getenv("RUNWAY_TOKEN"), a.getenv("TAILER_API_JWT")); t != "" {
		return staticToken(t), nil
	}
	if p.Login == nil {
		return nil, &exitError{code: exitAuth, err: errors.New(
			"not logged in: run runway login (--dev EMAIL, --credentials KEY.json or --google), or set RUNWAY_TOKEN")}
	}
	src := a.source(p, p.Login)
	var (
		mu    sync.Mutex
		token string
		made  time.Time
	)
	return func(ctx context.Context) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if token == "" || a.now().Sub(made) > tokenLifetime {
			t, err := src.Token(ctx)
			if err != nil {
				return "", &exitError{code: exitAuth, err: fmt.Errorf("making a token (%s): %w", p.Login, err)}
			}
			token, made = t, a.now()
		}
		return token, nil
	}, nil
}

func staticToken(t string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return t, nil }
}

// source is the token source of a login on the profile's API.
func (a *app) source(p *profile, l *login) tokens.Source {
	return tokens.Source{DevEmail: l.Dev, DevKeyFile: l.DevKeyFile, DevTTL: time.Hour,
		Credentials: l.Credentials, Google: l.Google, Audience: firstSet(p.Audience, a.apiURL(p))}
}

// loginFlags are the ways of making tokens, as login and token take them.
type loginFlags struct {
	login
	audience string
	ttl      time.Duration
}

func (a *app) addLoginFlags(cmd *cobra.Command, f *loginFlags) {
	key := firstSet(a.getenv("RUNWAY_DEV_KEY_FILE"), tokens.DefaultDevKeyFile)
	cmd.Flags().StringVar(&f.Dev, "dev", "", "dev tokens for this email, signed by the local stack's dev key")
	cmd.Flags().StringVar(&f.DevKeyFile, "key", key, "with --dev: the dev signing key (default: RUNWAY_DEV_KEY_FILE, else .runway/dev-key.pem)")
	cmd.Flags().StringVar(&f.Credentials, "credentials", "", "tokens a service account signs itself with this JSON key file")
	cmd.Flags().BoolVar(&f.Google, "google", false, "Google-signed ID tokens for the application default credentials (gcloud auth application-default login)")
	cmd.Flags().StringVar(&f.audience, "audience", "", "with --credentials or --google: the tokens' audience (default: the API URL)")
	cmd.MarkFlagsMutuallyExclusive("dev", "credentials", "google")
	cmd.MarkFlagFilename("key", "pem")
	cmd.MarkFlagFilename("credentials", "json")
}

func (a *app) loginCommand() *cobra.Command {
	var f loginFlags
	cmd := &cobra.Command{
		Use:   "login (--dev EMAIL | --credentials KEY.json | --google)",
		Short: "Choose how the profile makes its tokens, and check the API accepts them",
		Long: `login records in the profile how to make tokens, in one of three ways:

  --dev EMAIL            a dev token, signed by the local stack's key (scripts/dev.sh)
  --credentials KEY.json a token the service account signs itself, as the
                         Tailer docs' google-jwt-generator.py makes
  --google               a Google-signed ID token for the application default
                         credentials (gcloud auth application-default login)

Tokens are made afresh when needed, never stored. When the profile has an
account, login checks that the API accepts the token for it.`,
		Example: `  runway login --dev dev@runway.local
  runway login --credentials ~/keys/runway-sa.json --api-url https://runway.example.com
  runway login --google --audience https://runway.example.com`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			l := f.login
			for _, path := range []*string{&l.DevKeyFile, &l.Credentials} {
				if *path != "" {
					abs, err := filepath.Abs(*path)
					if err != nil {
						return usageError("%v", err)
					}
					*path = abs
				}
			}
			if l.Dev == "" {
				l.DevKeyFile = ""
			}
			p, err := a.profile()
			if err != nil {
				return err
			}
			checked := *p
			if f.audience != "" {
				checked.Audience = f.audience
			}
			src := a.source(&checked, &l)
			if err := src.Check(); err != nil {
				return usageError("%v", err)
			}
			token, err := src.Token(cmd.Context())
			if err != nil {
				return &exitError{code: exitAuth, err: fmt.Errorf("making a token (%s): %w", &l, err)}
			}
			if err := a.updateProfile(func(p *profile) error {
				p.Login = &l
				if f.audience != "" {
					p.Audience = f.audience
				}
				return nil
			}); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "profile %s: %s\n", a.profileName(), &l)
			account, err := a.account()
			if err != nil {
				return nil // nothing to check the token against
			}
			// Checked with the token just made, whatever RUNWAY_TOKEN says.
			a.api = &client{base: a.apiURL(a.prof), token: staticToken(token), http: a.http, sleep: sleep}
			limit := 1
			if _, err := a.call(cmd.Context(), pathConfiguration, listConfigurationsRequest{Action: "list_configurations", Account: account, Limit: &limit}, nil); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s accepts the token for account %s\n", a.api.base, account)
			return nil
		},
	}
	a.addLoginFlags(cmd, &f)
	return cmd
}

func (a *app) tokenCommand() *cobra.Command {
	var f loginFlags
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Print a bearer token: the profile's, or one made as the flags say",
		Long: `token prints the bearer token the other commands send: the one of --token,
RUNWAY_TOKEN or TAILER_API_JWT, else one made by the profile's login. With
--dev, --credentials or --google it makes one that way instead, as
scripts/token does.`,
		Example: `  export TAILER_API_JWT=$(runway token)
  runway token --dev analyst@example.com --ttl 1h
  runway token --credentials key.json --audience https://runway.example.com`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := a.profile()
			if err != nil {
				return err
			}
			var token string
			if f.Dev != "" || f.Credentials != "" || f.Google {
				src := a.source(p, &f.login)
				src.Audience = firstSet(f.audience, src.Audience)
				src.DevTTL = f.ttl
				if token, err = src.Token(cmd.Context()); err != nil {
					return &exitError{code: exitAuth, err: fmt.Errorf("making a token: %w", err)}
				}
			} else {
				make, err := a.tokenFunc(p)
				if err != nil {
					return err
				}
				if token, err = make(cmd.Context()); err != nil {
					return err
				}
			}
			fmt.Fprintln(a.stdout, token)
			return nil
		},
	}
	a.addLoginFlags(cmd, &f)
	cmd.Flags().DurationVar(&f.ttl, "ttl", 12*time.Hour, "with --dev: how long the token is valid")
	return cmd
}
