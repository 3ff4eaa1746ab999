package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
)

// defaultAPIURL is the local stack's (scripts/dev.sh).
const defaultAPIURL = "http://127.0.0.1:8080"

// configFile is the CLI's configuration file: named profiles.
type configFile struct {
	Profiles map[string]*profile `json:"profiles"`
}

// profile is where an API is and who the CLI is on it.
type profile struct {
	APIURL      string `json:"api_url,omitempty"`
	Account     string `json:"account,omitempty"`
	Environment string `json:"environment,omitempty"`
	// Audience is the audience of the tokens the login makes; by default
	// the API URL.
	Audience string `json:"audience,omitempty"`
	Login    *login `json:"login,omitempty"`
}

// login says how to make tokens: one of its ways is set.
type login struct {
	Dev         string `json:"dev,omitempty"` // a dev token for this email
	DevKeyFile  string `json:"dev_key_file,omitempty"`
	Credentials string `json:"credentials,omitempty"` // a service account key file
	Google      bool   `json:"google,omitempty"`      // application default credentials
}

// profileKeys are the keys `runway config set` takes.
var profileKeys = map[string]func(*profile) *string{
	"api_url":     func(p *profile) *string { return &p.APIURL },
	"account":     func(p *profile) *string { return &p.Account },
	"environment": func(p *profile) *string { return &p.Environment },
	"audience":    func(p *profile) *string { return &p.Audience },
}

func keyNames() []string {
	names := make([]string, 0, len(profileKeys))
	for k := range profileKeys {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// profileKey returns the field key names (api-url is api_url).
func profileKey(p *profile, key string) (*string, error) {
	field, ok := profileKeys[strings.ReplaceAll(key, "-", "_")]
	if !ok {
		return nil, usageError("unknown key %q: the keys are %s", key, strings.Join(keyNames(), ", "))
	}
	return field(p), nil
}

// configPath is RUNWAY_CONFIG, else runway/config.json in the user's
// configuration directory.
func (a *app) configPath() (string, error) {
	if p := a.getenv("RUNWAY_CONFIG"); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", usageError("no configuration directory (%v): set RUNWAY_CONFIG to a file", err)
	}
	return filepath.Join(dir, "runway", "config.json"), nil
}

func (a *app) loadConfig() (*configFile, error) {
	path, err := a.configPath()
	if err != nil {
		return nil, err
	}
	cfg := &configFile{Profiles: map[string]*profile{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return nil, usageError("read %s: %v", path, err)
	}
	if err := json.Unmarshal(data, cfg); err != nil {
		return nil, usageError("%s is not a runway configuration: %v", path, err)
	}
	if cfg.Profiles == nil {
		cfg.Profiles = map[string]*profile{}
	}
	return cfg, nil
}

// saveConfig writes the file readable by its owner only (a profile names
// key files), replacing it at once.
func (a *app) saveConfig(cfg *configFile) error {
	path, err := a.configPath()
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func (a *app) profileName() string {
	return firstSet(a.flags.profile, a.getenv("RUNWAY_PROFILE"), "default")
}

// profile returns the current profile, empty when it does not exist.
func (a *app) profile() (*profile, error) {
	if a.prof != nil {
		return a.prof, nil
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, err
	}
	a.prof = cfg.Profiles[a.profileName()]
	if a.prof == nil {
		a.prof = &profile{}
	}
	return a.prof, nil
}

// updateProfile changes the current profile with change and saves it.
func (a *app) updateProfile(change func(*profile) error) error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	name := a.profileName()
	p := cfg.Profiles[name]
	if p == nil {
		p = &profile{}
		cfg.Profiles[name] = p
	}
	if err := change(p); err != nil {
		return err
	}
	a.prof, a.api = p, nil
	return a.saveConfig(cfg)
}

func firstSet(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// apiURL resolves the API's URL, without a trailing slash.
func (a *app) apiURL(p *profile) string {
	return strings.TrimRight(firstSet(a.flags.apiURL, a.getenv("RUNWAY_API_URL"), p.APIURL, defaultAPIURL), "/")
}

// account resolves the account, which every action needs.
func (a *app) account() (string, error) {
	p, err := a.profile()
	if err != nil {
		return "", err
	}
	if v := firstSet(a.flags.account, a.getenv("RUNWAY_ACCOUNT"), p.Account); v != "" {
		return v, nil
	}
	return "", usageError("no account: pass --account, set RUNWAY_ACCOUNT, or run: runway config set account ACCOUNT")
}

// environment resolves the environment; "" when none is set and it is
// not required.
func (a *app) environment(required bool) (string, error) {
	p, err := a.profile()
	if err != nil {
		return "", err
	}
	v := firstSet(a.flags.environment, a.getenv("RUNWAY_ENVIRONMENT"), p.Environment)
	if a.flags.environmentSet {
		v = a.flags.environment // --env "" asks for every environment
	}
	if v == "" && required {
		return "", usageError("no environment: pass --env, set RUNWAY_ENVIRONMENT, or run: runway config set environment DEV")
	}
	return v, nil
}

func (a *app) configCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Set and show the profile's settings: API URL, account, environment",
		Long: `A profile holds the API URL, account, environment and login the commands use.
Profiles are kept in runway/config.json in the user's configuration directory
(RUNWAY_CONFIG names another file); --profile or RUNWAY_PROFILE picks one, by
default "default". Flags and RUNWAY_API_URL, RUNWAY_ACCOUNT, RUNWAY_ENVIRONMENT
override the profile.

Keys: ` + strings.Join(keyNames(), ", ") + ` (the audience of tokens, by default the API URL).`,
		Example: `  runway config set api_url https://runway.example.com
  runway config set account 000099
  runway config set environment DEV --profile prod-ops
  runway config get account
  runway config list`,
	}
	complete := func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		if len(args) == 0 {
			return keyNames(), cobra.ShellCompDirectiveNoFileComp
		}
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	cmd.AddCommand(&cobra.Command{
		Use:               "set KEY VALUE",
		Short:             "Set a key of the profile (an empty VALUE removes it)",
		Example:           `  runway config set account 000099`,
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: complete,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.updateProfile(func(p *profile) error {
				field, err := profileKey(p, args[0])
				if err != nil {
					return err
				}
				*field = args[1]
				return nil
			})
		},
	}, &cobra.Command{
		Use:               "get KEY",
		Short:             "Print a key of the profile",
		Example:           `  runway config get api_url`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: complete,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := a.profile()
			if err != nil {
				return err
			}
			field, err := profileKey(p, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, *field)
			return nil
		},
	}, &cobra.Command{
		Use:     "list",
		Short:   "List the profiles and their settings",
		Example: `  runway config list`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			if a.flags.json {
				data, _ := json.Marshal(cfg)
				a.printJSON(data)
				return nil
			}
			names := make([]string, 0, len(cfg.Profiles))
			for n := range cfg.Profiles {
				names = append(names, n)
			}
			sort.Strings(names)
			path, _ := a.configPath()
			if len(names) == 0 {
				fmt.Fprintf(a.stdout, "no profiles yet in %s: see runway config set --help\n", path)
			}
			for _, n := range names {
				p := cfg.Profiles[n]
				current := ""
				if n == a.profileName() {
					current = " (current)"
				}
				fmt.Fprintf(a.stdout, "%s%s\n", n, current)
				for _, k := range keyNames() {
					if v := *profileKeys[k](p); v != "" {
						fmt.Fprintf(a.stdout, "  %-11s %s\n", k, v)
					}
				}
				if p.Login != nil {
					fmt.Fprintf(a.stdout, "  %-11s %s\n", "login", p.Login)
				}
			}
			return nil
		},
	})
	return cmd
}

// String says how the login makes tokens.
func (l *login) String() string {
	switch {
	case l.Dev != "":
		return fmt.Sprintf("dev token for %s (key %s)", l.Dev, l.DevKeyFile)
	case l.Credentials != "":
		return "service account key " + l.Credentials
	case l.Google:
		return "Google ID token (application default credentials)"
	}
	return "none"
}
