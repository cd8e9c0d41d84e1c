package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/client"
	"github.com/tongbao/tongbao/httpapi/wire"
)

// The CLI's subcommands speak to a running server (tongbao serve or
// tongbao demo): the address and the key come from --addr and --key or
// from TONGBAO_ADDR and TONGBAO_KEY. Each prints the server's JSON answer.

// cliFlags are the connection flags every client subcommand takes.
type cliFlags struct {
	addr, key, idempotencyKey string
	// field, when set, prints only that field of the answer, bare, for
	// use in a shell: payload=$(tongbao merchant request … --field payload).
	field string
}

func (f *cliFlags) register(cmd *cobra.Command, money bool) {
	cmd.Flags().StringVar(&f.addr, "addr", "", "server address (default $TONGBAO_ADDR, else http://"+serveAddrDefault+")")
	cmd.Flags().StringVar(&f.key, "key", "", "API key or holder token (default $TONGBAO_KEY)")
	cmd.Flags().StringVar(&f.field, "field", "", "print only this field of the answer (a string bare, anything else as JSON)")
	if money {
		cmd.Flags().StringVar(&f.idempotencyKey, "idempotency-key", "", "Idempotency-Key: repeat it to retry safely (default: a new one)")
	}
}

func (f *cliFlags) client() *client.Client {
	addr, key := f.addr, f.key
	if addr == "" {
		addr = os.Getenv("TONGBAO_ADDR")
	}
	if addr == "" {
		addr = "http://" + serveAddrDefault
	}
	if key == "" {
		key = os.Getenv("TONGBAO_KEY")
	}
	return client.New(addr, key, nil)
}

func (f *cliFlags) idem() string {
	if f.idempotencyKey != "" {
		return f.idempotencyKey
	}
	return client.NewKey()
}

// print writes v as indented JSON, or only its field when field is set.
func (m *Main) print(v any, field string, err error) error {
	if err != nil {
		return err
	}
	if raw, ok := v.(rawOutput); ok {
		if field != "" {
			return fmt.Errorf("--field: this command's answer is not JSON")
		}
		_, err := m.Stdout.Write(raw)
		return err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if field != "" {
		var fields map[string]json.RawMessage
		if json.Unmarshal(b, &fields) != nil {
			return fmt.Errorf("--field: this command's answer has no fields")
		}
		f, ok := fields[field]
		if !ok {
			return fmt.Errorf("--field: the answer has no field %q", field)
		}
		var s string
		if json.Unmarshal(f, &s) == nil {
			b = []byte(s)
		} else {
			b = f
		}
	}
	_, err = fmt.Fprintln(m.Stdout, string(b))
	return err
}

// clientCommand makes a subcommand that speaks to the server: run gets the
// client, the positional arguments and the idempotency key.
func (m *Main) clientCommand(use, short string, args int, money bool, run func(cmd *cobra.Command, c *client.Client, args []string, key string) (any, error)) *cobra.Command {
	f := &cliFlags{}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(args),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := run(cmd, f.client(), args, f.idem())
			return m.print(v, f.field, err)
		},
	}
	f.register(cmd, money)
	return cmd
}

func parseID(s string) (tongbao.ID, error) { return tongbao.ParseID(s) }

func parseAmount(s string) (tongbao.Amount, error) { return tongbao.ParseAmount(s) }

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339, s)
}

var _ = wire.Amount(0)
