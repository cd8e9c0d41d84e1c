package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/client"
	"github.com/tongbao/tongbao/httpapi/wire"
)

// partyKeyFile is a party's key pair as `tongbao contract party keygen`
// writes it: base64url without padding, the private key as its 32-byte
// seed (RFC 8037), and the party's id once it is registered.
type partyKeyFile struct {
	ID         *tongbao.ID `json:"id,omitempty"`
	PublicKey  string      `json:"public_key"`
	PrivateKey string      `json:"private_key"`
}

// readPartyKey reads a key file and checks that its halves belong
// together.
func readPartyKey(path string) (partyKeyFile, ed25519.PrivateKey, error) {
	var f partyKeyFile
	b, err := os.ReadFile(path)
	if err != nil {
		return f, nil, err
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, nil, fmt.Errorf("%s: %w", path, err)
	}
	seed, err := base64.RawURLEncoding.DecodeString(f.PrivateKey)
	if err != nil || len(seed) != ed25519.SeedSize {
		return f, nil, fmt.Errorf("%s: private_key is not a base64url Ed25519 seed of %d bytes", path, ed25519.SeedSize)
	}
	key := ed25519.NewKeyFromSeed(seed)
	if base64.RawURLEncoding.EncodeToString(key.Public().(ed25519.PublicKey)) != f.PublicKey {
		return f, nil, fmt.Errorf("%s: public_key is not the private key's", path)
	}
	return f, key, nil
}

// writePartyKey writes a key file readable by its owner only.
func writePartyKey(path string, f partyKeyFile, exclusive bool) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if exclusive {
		flags |= os.O_EXCL
	}
	out, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		return err
	}
	if _, err := out.Write(append(b, '\n')); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// contractPartyCommand groups external parties: making a key pair, and
// registering its public key (operator admin key).
func (m *Main) contractPartyCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "party", Short: "External parties that sign events: keygen, register, show", Args: cobra.NoArgs}
	keygen := &cobra.Command{
		Use:   "keygen FILE",
		Short: "Make an Ed25519 key pair for a party and write it to FILE (readable by its owner only; never overwritten)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pub, priv, err := ed25519.GenerateKey(rand.Reader)
			if err != nil {
				return err
			}
			f := partyKeyFile{PublicKey: base64.RawURLEncoding.EncodeToString(pub), PrivateKey: base64.RawURLEncoding.EncodeToString(priv.Seed())}
			if err := writePartyKey(args[0], f, true); err != nil {
				return err
			}
			return m.print(map[string]string{"public_key": f.PublicKey, "file": args[0]}, "", nil)
		},
	}
	var keyFile, publicKey string
	register := m.clientCommand("register NAME", "Register a party's public key at the key's operator (--key-file records the id in the file)", 1, false,
		func(cmd *cobra.Command, c *client.Client, args []string, _ string) (any, error) {
			if (keyFile == "") == (publicKey == "") {
				return nil, errors.New("give --key-file or --public-key, one of them")
			}
			var f partyKeyFile
			if keyFile != "" {
				var err error
				if f, _, err = readPartyKey(keyFile); err != nil {
					return nil, err
				}
				publicKey = f.PublicKey
			}
			in := wire.RegisterContractParty{ID: f.ID, Name: args[0], PublicKey: publicKey}
			p, err := c.RegisterContractParty(cmd.Context(), client.NewKey(), in)
			if err != nil {
				return nil, err
			}
			if keyFile != "" && f.ID == nil {
				f.ID = &p.ID
				if err := writePartyKey(keyFile, f, false); err != nil {
					return nil, fmt.Errorf("registered as %s, but the key file was not updated: %w", p.ID, err)
				}
			}
			return p, nil
		})
	register.Flags().StringVar(&keyFile, "key-file", "", "a key file made by keygen")
	register.Flags().StringVar(&publicKey, "public-key", "", "the Ed25519 public key, base64url or hex")
	show := m.clientCommand("show PARTY", "Read a registered party", 1, false, func(cmd *cobra.Command, c *client.Client, args []string, _ string) (any, error) {
		id, err := parseID(args[0])
		if err != nil {
			return nil, err
		}
		return c.ContractParty(cmd.Context(), id)
	})
	cmd.AddCommand(keygen, register, show)
	return cmd
}
