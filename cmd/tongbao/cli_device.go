package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"
	"github.com/spf13/cobra"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/client"
	"github.com/tongbao/tongbao/httpapi/wire"
	"github.com/tongbao/tongbao/offline"
)

// deviceCommand groups the offline wallet: simulated devices on this
// machine (init, pay, receive, unload, status work with no server; certify,
// load and sync reach one), and the ledger's side of devices (state, cases,
// keys), which speaks to a server.
func (m *Main) deviceCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "device", Short: "Offline wallets: simulated devices that pay each other with no network, and their sync with the ledger", Args: cobra.NoArgs}
	var dir string
	dirFlag := func(c *cobra.Command) *cobra.Command {
		c.Flags().StringVar(&dir, "device-dir", "", "the device's folder (its simulated secure element)")
		_ = c.MarkFlagRequired("device-dir")
		return c
	}
	// local runs a subcommand on the device alone: no server.
	local := func(use, short string, args int, run func(cmd *cobra.Command, el *offline.Element, args []string) (any, error)) *cobra.Command {
		var field string
		c := &cobra.Command{Use: use, Short: short, Args: cobra.ExactArgs(args), RunE: func(cmd *cobra.Command, args []string) error {
			el, err := offline.OpenDevice(dir, nil)
			if err != nil {
				return err
			}
			v, err := run(cmd, el, args)
			return m.print(v, field, err)
		}}
		c.Flags().StringVar(&field, "field", "", "print only this field of the answer (a string bare, anything else as JSON)")
		return dirFlag(c)
	}
	// online runs a subcommand on the device that reaches the server.
	online := func(use, short string, money bool, run func(cmd *cobra.Command, c *client.Client, el *offline.Element, key string) (any, error)) *cobra.Command {
		return dirFlag(m.clientCommand(use, short, 0, money, func(cmd *cobra.Command, c *client.Client, _ []string, key string) (any, error) {
			el, err := offline.OpenDevice(dir, nil)
			if err != nil {
				return nil, err
			}
			return run(cmd, c, el, key)
		}))
	}

	var field string
	initCmd := &cobra.Command{Use: "init", Short: "Create a device: its Ed25519 key, made on the device, an empty purse and counter 0", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			el, err := offline.InitDevice(dir, nil)
			if err != nil {
				return err
			}
			return m.print(deviceStatus(el), field, nil)
		}}
	initCmd.Flags().StringVar(&field, "field", "", "print only this field of the answer")
	dirFlag(initCmd)

	var wallet string
	certify := online("certify", "Have the wallet's operator certify the device's key (the holder's key), and install the certificate, keys and revocation lists", false,
		func(cmd *cobra.Command, c *client.Client, el *offline.Element, _ string) (any, error) {
			w, err := parseID(wallet)
			if err != nil {
				return nil, fmt.Errorf("--wallet: %w", err)
			}
			d, err := c.CertifyDevice(cmd.Context(), el.ID(), w, el.PublicKey())
			if err != nil {
				return nil, err
			}
			if err := el.Install(d.Certificate, pinnedKeys(d.OperatorKeys), d.RevocationLists); err != nil {
				return nil, err
			}
			return deviceStatus(el), nil
		})
	certify.Flags().StringVar(&wallet, "wallet", "", "the wallet the device belongs to")

	var amount string
	load := online("load", "Load the device's purse from its wallet, and accept the signed voucher (and any missed before)", true,
		func(cmd *cobra.Command, c *client.Client, el *offline.Element, key string) (any, error) {
			a, err := parseAmount(amount)
			if err != nil {
				return nil, fmt.Errorf("--amount: %w", err)
			}
			if _, err := c.LoadDevice(cmd.Context(), key, el.ID(), a); err != nil {
				return nil, err
			}
			if err := acceptVouchers(cmd.Context(), c, el); err != nil {
				return nil, err
			}
			return deviceStatus(el), nil
		})
	load.Flags().StringVar(&amount, "amount", "", "amount to load, such as 200.00")

	var to, pngFile, nfcFile string
	pay := local("pay", "Pay another device offline: sign a token and print it as QR text (and a PNG, NFC bytes)", 0,
		func(cmd *cobra.Command, el *offline.Element, _ []string) (any, error) {
			payee, err := parseID(to)
			if err != nil {
				return nil, fmt.Errorf("--to: %w", err)
			}
			a, err := parseAmount(amount)
			if err != nil {
				return nil, fmt.Errorf("--amount: %w", err)
			}
			raw, err := el.Pay(payee, a)
			if err != nil {
				return nil, err
			}
			return tokenOut(raw, pngFile, nfcFile)
		})
	pay.Flags().StringVar(&to, "to", "", "the payee's device id")
	pay.Flags().StringVar(&amount, "amount", "", "amount, such as 12.50")
	pay.Flags().StringVar(&pngFile, "qr", "", "also write the token as a QR code to this PNG file")
	pay.Flags().StringVar(&nfcFile, "nfc", "", "also write the token as an NFC (NDEF) record to this file")

	var nfcIn string
	receive := local("receive [QR-TEXT]", "Receive a token offline: check it with no network and keep it for the next sync", 0,
		func(cmd *cobra.Command, el *offline.Element, args []string) (any, error) {
			raw, err := tokenIn(args, nfcIn)
			if err != nil {
				return nil, err
			}
			t, err := el.Receive(raw)
			if err != nil {
				return nil, err
			}
			return receivedToken{Hash: t.Hash.String(), Payer: t.Payer(), Counter: t.Counter, Amount: wire.Amount(t.Amount), Operator: t.Cert.Operator}, nil
		})
	receive.Args = cobra.MaximumNArgs(1)
	receive.Flags().StringVar(&nfcIn, "nfc", "", "read the token from this NFC (NDEF) record file instead")

	unload := local("unload", "Sign an unload of the purse back to the wallet: it settles at the next sync", 0,
		func(cmd *cobra.Command, el *offline.Element, _ []string) (any, error) {
			a, err := parseAmount(amount)
			if err != nil {
				return nil, fmt.Errorf("--amount: %w", err)
			}
			raw, err := el.Unload(a)
			if err != nil {
				return nil, err
			}
			return tokenOut(raw, "", "")
		})
	unload.Flags().StringVar(&amount, "amount", "", "amount to unload")

	sync := online("sync", "Upload what the device signed and received; take the ledger's acknowledgement, a renewed certificate and the revocation lists", false,
		func(cmd *cobra.Command, c *client.Client, el *offline.Element, _ string) (any, error) {
			return syncDevice(cmd.Context(), c, el)
		})

	status := local("status", "The device's purse, counter, payments left before it must reconnect, and what waits to sync", 0,
		func(cmd *cobra.Command, el *offline.Element, _ []string) (any, error) {
			return deviceStatus(el), nil
		})

	var reason string
	setState := m.clientCommand("set-state DEVICE STATE", "Move a device through its lifecycle (suspended, active, revoked, decommissioned) with --reason", 2, false,
		func(cmd *cobra.Command, c *client.Client, args []string, _ string) (any, error) {
			id, err := parseID(args[0])
			if err != nil {
				return nil, err
			}
			return c.SetDeviceState(cmd.Context(), id, args[1], reason)
		})
	setState.Flags().StringVar(&reason, "reason", "", "why (required)")
	show := m.clientCommand("show DEVICE", "Read a device as the ledger knows it: state, purse, counters, certificate", 1, false,
		func(cmd *cobra.Command, c *client.Client, args []string, _ string) (any, error) {
			id, err := parseID(args[0])
			if err != nil {
				return nil, err
			}
			return c.OfflineDevice(cmd.Context(), id)
		})
	var page client.Page
	cases := m.clientCommand("cases", "List fraud cases (central bank: all; operator admin: its operator's)", 0, false,
		func(cmd *cobra.Command, c *client.Client, _ []string, _ string) (any, error) {
			return c.OfflineCases(cmd.Context(), page)
		})
	cases.Flags().StringVar(&page.Cursor, "cursor", "", "next_cursor of the previous page")
	cases.Flags().IntVar(&page.Limit, "limit", 0, "items per page (default the server's)")
	var note string
	closeCase := m.clientCommand("close-case CASE", "Close a fraud case with a --note once reviewed", 1, false,
		func(cmd *cobra.Command, c *client.Client, args []string, _ string) (any, error) {
			id, err := parseID(args[0])
			if err != nil {
				return nil, err
			}
			return c.CloseOfflineCase(cmd.Context(), id, note)
		})
	closeCase.Flags().StringVar(&note, "note", "", "the review's conclusion (required)")

	var perPayment, balance string
	var payments int
	capsCmd := m.clientCommand("caps OPERATOR", "Show the caps an operator certifies its devices with, or set them (--per-payment, --balance, --payments)", 1, false,
		func(cmd *cobra.Command, c *client.Client, args []string, _ string) (any, error) {
			op, err := parseID(args[0])
			if err != nil {
				return nil, err
			}
			if perPayment == "" && balance == "" && payments == 0 {
				return c.OfflineCapsOf(cmd.Context(), op)
			}
			per, err := parseAmount(perPayment)
			if err != nil {
				return nil, fmt.Errorf("--per-payment: %w", err)
			}
			bal, err := parseAmount(balance)
			if err != nil {
				return nil, fmt.Errorf("--balance: %w", err)
			}
			return c.SetOfflineCaps(cmd.Context(), op, wire.OfflineCaps{PerPayment: wire.Amount(per), Balance: wire.Amount(bal), Payments: payments})
		})
	capsCmd.Flags().StringVar(&perPayment, "per-payment", "", "the most one payment carries")
	capsCmd.Flags().StringVar(&balance, "balance", "", "the most a purse holds")
	capsCmd.Flags().IntVar(&payments, "payments", 0, "payments before a device must reconnect")

	cmd.AddCommand(initCmd, certify, load, pay, receive, unload, sync, status, setState, show, cases, closeCase, capsCmd)
	return cmd
}

// deviceView is what the device commands print of a device.
type deviceView struct {
	Device       tongbao.ID  `json:"device"`
	PublicKey    string      `json:"public_key"`
	Wallet       tongbao.ID  `json:"wallet"`
	Operator     tongbao.ID  `json:"operator"`
	Balance      wire.Amount `json:"balance"`
	Counter      uint64      `json:"counter"`
	Synced       uint64      `json:"synced"`
	PaymentsLeft int         `json:"payments_left"`
	CertExpires  string      `json:"cert_expires,omitempty"`
	Inbox        int         `json:"inbox"`
	InboxAmount  wire.Amount `json:"inbox_amount"`
	Outbox       int         `json:"outbox"`
	Locked       bool        `json:"locked"`
}

func deviceStatus(el *offline.Element) deviceView {
	s := el.Status()
	v := deviceView{Device: s.ID, PublicKey: fmt.Sprintf("%x", el.PublicKey()), Wallet: s.Wallet, Operator: s.Operator, Balance: wire.Amount(s.Balance), Counter: s.Counter,
		Synced: s.Synced, PaymentsLeft: s.PaymentsLeft, Inbox: s.Inbox, InboxAmount: wire.Amount(s.InboxAmount), Outbox: s.Outbox, Locked: s.Locked}
	if !s.CertExpires.IsZero() {
		v.CertExpires = s.CertExpires.Format(time.RFC3339)
	}
	return v
}

// tokenView is a token as pay and unload print it.
type tokenView struct {
	Token   string      `json:"token"` // the QR text
	Hash    string      `json:"hash"`
	Counter uint64      `json:"counter"`
	Amount  wire.Amount `json:"amount"`
	Bytes   int         `json:"bytes"`
}

type receivedToken struct {
	Hash     string      `json:"hash"`
	Payer    tongbao.ID  `json:"payer"`
	Counter  uint64      `json:"counter"`
	Amount   wire.Amount `json:"amount"`
	Operator tongbao.ID  `json:"operator"`
}

func tokenOut(raw []byte, pngFile, nfcFile string) (tokenView, error) {
	t, err := offline.ParseToken(raw)
	if err != nil {
		return tokenView{}, err
	}
	text := offline.EncodeQR(raw)
	if pngFile != "" {
		// A token's QR text is in the alphanumeric mode's characters;
		// medium error correction, as the merchant codes.
		png, err := qrcode.Encode(text, qrcode.Medium, 512)
		if err != nil {
			return tokenView{}, err
		}
		if err := os.WriteFile(pngFile, png, 0o644); err != nil {
			return tokenView{}, err
		}
	}
	if nfcFile != "" {
		if err := os.WriteFile(nfcFile, offline.EncodeNFC(raw), 0o644); err != nil {
			return tokenView{}, err
		}
	}
	return tokenView{Token: text, Hash: t.Hash.String(), Counter: t.Counter, Amount: wire.Amount(t.Amount), Bytes: len(raw)}, nil
}

func tokenIn(args []string, nfcFile string) ([]byte, error) {
	switch {
	case nfcFile != "" && len(args) == 0:
		b, err := os.ReadFile(nfcFile)
		if err != nil {
			return nil, err
		}
		return offline.DecodeNFC(b)
	case nfcFile == "" && len(args) == 1:
		return offline.DecodeQR(strings.TrimSpace(args[0]))
	}
	return nil, errors.New("give the token's QR text as the argument, or --nfc FILE")
}

func pinnedKeys(ks []client.OperatorKey) []offline.OperatorKey {
	out := make([]offline.OperatorKey, len(ks))
	for i, k := range ks {
		out[i] = offline.OperatorKey{Operator: k.Operator, ID: k.ID, Public: k.Public, CreatedAt: k.CreatedAt}
	}
	return out
}

// acceptVouchers fetches the device's vouchers after the last it accepted
// and accepts them in order: a load whose answer was lost is caught up.
func acceptVouchers(ctx context.Context, c *client.Client, el *offline.Element) error {
	for {
		vs, err := c.DeviceVouchers(ctx, el.ID(), el.Status().Vouchers, 0)
		if err != nil {
			return err
		}
		if len(vs) == 0 {
			return nil
		}
		for _, v := range vs {
			if _, err := el.AcceptVoucher(v.Voucher); err != nil {
				return err
			}
		}
	}
}

// syncView is what sync prints.
type syncView struct {
	Results []client.OfflineTokenResult `json:"results"`
	Device  deviceView                  `json:"device"`
}

// syncDevice uploads what el holds and installs the answer.
func syncDevice(ctx context.Context, c *client.Client, el *offline.Element) (syncView, error) {
	signed, received := el.Pending()
	res, err := c.SyncDevice(ctx, el.ID(), append(signed, received...))
	if err != nil {
		return syncView{}, err
	}
	decided := make([]offline.Hash, len(res.Decided))
	for i, h := range res.Decided {
		decided[i] = offline.Hash(h)
	}
	if err := el.Synced(res.Ack, decided, pinnedKeys(res.OperatorKeys), res.RevocationLists); err != nil {
		return syncView{}, err
	}
	return syncView{Results: res.Results, Device: deviceStatus(el)}, nil
}
