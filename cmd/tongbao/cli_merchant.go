package main

import (
	"net/url"
	"os"
	"time"

	"github.com/spf13/cobra"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/client"
	"github.com/tongbao/tongbao/httpapi/wire"
)

// rawOutput is an answer the CLI prints as it is (a CSV statement) rather
// than as JSON.
type rawOutput []byte

// merchantCommand groups what a merchant (merchant key) does: collection
// codes, payment requests, charging payment codes, refunds, statements.
func (m *Main) merchantCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "merchant", Short: "Collect as a merchant: codes, payment requests, payment codes, refunds, statements", Args: cobra.NoArgs}

	var name, city, pngFile string
	names := func(c *cobra.Command) {
		c.Flags().StringVar(&name, "name", "Merchant", "merchant name the payer sees (printable ASCII)")
		c.Flags().StringVar(&city, "city", "Shanghai", "merchant city the payer sees")
		c.Flags().StringVar(&pngFile, "png", "", "also write the code as a QR image to this PNG file")
	}
	writePNG := func(cmd *cobra.Command, c *client.Client, path string) error {
		if pngFile == "" {
			return nil
		}
		b, _, err := c.GetRaw(cmd.Context(), path)
		if err != nil {
			return err
		}
		return os.WriteFile(pngFile, b, 0o644)
	}
	code := m.clientCommand("code WALLET", "A merchant wallet's static collection code (the payer enters the amount)", 1, false,
		func(cmd *cobra.Command, c *client.Client, args []string, _ string) (any, error) {
			id, err := parseID(args[0])
			if err != nil {
				return nil, err
			}
			cc, err := c.CollectionCode(cmd.Context(), id, name, city)
			if err != nil {
				return nil, err
			}
			return cc, writePNG(cmd, c, "/v1/wallets/"+id.String()+"/collection-code?format=png&merchant_name="+url.QueryEscape(name)+"&merchant_city="+url.QueryEscape(city))
		})
	names(code)

	var expiresIn time.Duration
	request := m.clientCommand("request ORDER_ID AMOUNT", "Create a payment request (a dynamic collection code) for an order", 2, true,
		func(cmd *cobra.Command, c *client.Client, args []string, key string) (any, error) {
			a, err := parseAmount(args[1])
			if err != nil {
				return nil, err
			}
			r, err := c.CreatePaymentRequest(cmd.Context(), key, wire.CreatePaymentRequest{OrderID: args[0], Amount: wire.Amount(a),
				ExpiresIn: int(expiresIn / time.Second), MerchantName: name, MerchantCity: city})
			if err != nil {
				return nil, err
			}
			return r, writePNG(cmd, c, "/v1/payment-requests/"+r.ID.String()+"/qr")
		})
	names(request)
	request.Flags().DurationVar(&expiresIn, "expires-in", 15*time.Minute, "how long the request may be paid")

	show := m.clientCommand("show REQUEST", "Read a payment request", 1, false, func(cmd *cobra.Command, c *client.Client, args []string, _ string) (any, error) {
		id, err := parseID(args[0])
		if err != nil {
			return nil, err
		}
		return c.PaymentRequest(cmd.Context(), id)
	})
	cancel := m.clientCommand("cancel REQUEST", "Cancel an open payment request", 1, false, func(cmd *cobra.Command, c *client.Client, args []string, _ string) (any, error) {
		id, err := parseID(args[0])
		if err != nil {
			return nil, err
		}
		return c.CancelPaymentRequest(cmd.Context(), id)
	})
	var order string
	charge := m.clientCommand("charge CODE AMOUNT", "Charge the payment code a holder shows", 2, true, func(cmd *cobra.Command, c *client.Client, args []string, key string) (any, error) {
		a, err := parseAmount(args[1])
		if err != nil {
			return nil, err
		}
		return c.Charge(cmd.Context(), key, wire.Charge{Code: args[0], Amount: wire.Amount(a), OrderID: order})
	})
	charge.Flags().StringVar(&order, "order", "", "the merchant's order id (default: one made from the charge)")
	refund := m.clientCommand("refund REQUEST AMOUNT REASON", "Refund all or part of a paid payment request", 3, true, func(cmd *cobra.Command, c *client.Client, args []string, key string) (any, error) {
		id, err := parseID(args[0])
		if err != nil {
			return nil, err
		}
		a, err := parseAmount(args[1])
		if err != nil {
			return nil, err
		}
		return c.Refund(cmd.Context(), key, id, a, args[2])
	})
	refunds := m.clientCommand("refunds REQUEST", "A payment request's refunds", 1, false, func(cmd *cobra.Command, c *client.Client, args []string, _ string) (any, error) {
		id, err := parseID(args[0])
		if err != nil {
			return nil, err
		}
		return c.Refunds(cmd.Context(), id)
	})
	var day string
	var asCSV bool
	statement := m.clientCommand("statement WALLET", "A merchant wallet's daily statement (Asia/Shanghai)", 1, false, func(cmd *cobra.Command, c *client.Client, args []string, _ string) (any, error) {
		id, err := parseID(args[0])
		if err != nil {
			return nil, err
		}
		if asCSV {
			b, err := c.StatementCSV(cmd.Context(), id, day)
			return rawOutput(b), err
		}
		return c.Statement(cmd.Context(), id, day)
	})
	statement.Flags().StringVar(&day, "day", "", "the day, YYYY-MM-DD (default today)")
	statement.Flags().BoolVar(&asCSV, "csv", false, "print CSV instead of JSON")
	cmd.AddCommand(code, request, show, cancel, charge, refund, refunds, statement)
	return cmd
}

// payCodeCommand pays a scanned collection code (holder token).
func (m *Main) payCodeCommand() *cobra.Command {
	cmd := m.clientCommand("pay-code FROM_WALLET PAYLOAD [AMOUNT]", "Pay a scanned collection code: a static one with an amount, a dynamic one as it is", 2, true,
		func(cmd *cobra.Command, c *client.Client, args []string, key string) (any, error) {
			from, err := parseID(args[0])
			if err != nil {
				return nil, err
			}
			var amount tongbao.Amount
			if len(args) == 3 {
				if amount, err = parseAmount(args[2]); err != nil {
					return nil, err
				}
			}
			return c.PayCollectionCode(cmd.Context(), key, from, args[1], amount)
		})
	cmd.Args = cobra.RangeArgs(2, 3)
	return cmd
}

// paymentCodeCommand issues a one-time payment code (holder token).
func (m *Main) paymentCodeCommand() *cobra.Command {
	var cap string
	cmd := m.clientCommand("payment-code WALLET", "Show a one-time payment code for a merchant to scan (valid a minute)", 1, false,
		func(cmd *cobra.Command, c *client.Client, args []string, _ string) (any, error) {
			id, err := parseID(args[0])
			if err != nil {
				return nil, err
			}
			var a tongbao.Amount
			if cap != "" {
				if a, err = parseAmount(cap); err != nil {
					return nil, err
				}
			}
			return c.IssuePaymentCode(cmd.Context(), id, a)
		})
	cmd.Flags().StringVar(&cap, "cap", "", "the most a merchant may charge (default 1000.00)")
	return cmd
}
