package main

import (
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/tongbao/tongbao/client"
	"github.com/tongbao/tongbao/contract"
)

// contractEventCommand signs an event with a party's key file and posts
// it: the signature, not an API key, authenticates it.
func (m *Main) contractEventCommand() *cobra.Command {
	var keyFile, signer string
	var data []string
	cmd := m.clientCommand("event CONTRACT TYPE EVENT_ID", "Sign an event with a party's key file (--key-file) and post it; EVENT_ID is accepted once", 3, false,
		func(cmd *cobra.Command, c *client.Client, args []string, _ string) (any, error) {
			id, err := parseID(args[0])
			if err != nil {
				return nil, err
			}
			if keyFile == "" {
				return nil, errors.New("--key-file is required: the key that signs the event")
			}
			f, key, err := readPartyKey(keyFile)
			if err != nil {
				return nil, err
			}
			if signer != "" {
				s, err := parseID(signer)
				if err != nil {
					return nil, err
				}
				f.ID = &s
			}
			if f.ID == nil {
				return nil, errors.New("the key file names no party: register it with `tongbao contract party register --key-file`, or give --signer")
			}
			d, err := keyValues("--data", data)
			if err != nil {
				return nil, err
			}
			ev := contract.Event{ID: args[2], Type: args[1], Contract: id, Data: d, IssuedAt: time.Now().Unix()}
			jws, err := contract.SignEvent(key, *f.ID, ev)
			if err != nil {
				return nil, err
			}
			return c.PostContractEvent(cmd.Context(), jws)
		})
	cmd.Flags().StringVar(&keyFile, "key-file", "", "the party's key file (tongbao contract party keygen)")
	cmd.Flags().StringVar(&signer, "signer", "", "the party's id (default: the key file's)")
	cmd.Flags().StringArrayVar(&data, "data", nil, "name=value the event's data, the value as JSON or else a string (repeatable)")
	return cmd
}
