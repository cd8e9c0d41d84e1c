package main

import (
	"errors"
	"fmt"
	"path/filepath"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/client"
	"github.com/tongbao/tongbao/offline"
)

// The demo's offline wallets: the demo holder's phone (first operator)
// and the second operator's shop terminal, simulated devices in the data
// folder that pay each other with no network and sync through the API.
const (
	demoHolderDevice = "devices/holder"
	demoShopDevice   = "devices/shop"
	// demoOfflinePurse is what the holder's device is loaded up to.
	demoOfflinePurse = tongbao.Amount(200_00)
	demoOfflinePay   = tongbao.Amount(12_50)
)

// offlinePay makes (on the first start) and certifies the two devices,
// tops up the holder's purse, pays the shop offline and has both sides
// sync: the shop is credited once, across operators.
func (d *demo) offlinePay(data string) error {
	ctx := d.ctx
	a, b := d.keys.Operators[0], d.keys.Operators[1]
	holderAPI, shopAPI := d.cb.WithKey(a.Holder), d.cb.WithKey(b.Merchant)
	phone, err := d.device(holderAPI, filepath.Join(data, demoHolderDevice), a.Wallet)
	if err != nil {
		return fmt.Errorf("the holder's device: %w", err)
	}
	shop, err := d.device(shopAPI, filepath.Join(data, demoShopDevice), b.Shop)
	if err != nil {
		return fmt.Errorf("the shop's device: %w", err)
	}
	if st := phone.Status(); st.Balance < demoOfflinePurse/2 {
		if _, err := holderAPI.LoadDevice(ctx, client.NewKey(), phone.ID(), demoOfflinePurse-st.Balance); err != nil {
			return fmt.Errorf("load the holder's device: %w", err)
		}
		if err := acceptVouchers(ctx, holderAPI, phone); err != nil {
			return err
		}
	}
	// The count of payments before the device must reconnect is spent
	// by the demo's own payments only if it never synced: it syncs below.
	raw, err := phone.Pay(shop.ID(), demoOfflinePay)
	if err != nil {
		return fmt.Errorf("pay offline: %w", err)
	}
	if _, err := shop.Receive(raw); err != nil {
		return fmt.Errorf("receive offline: %w", err)
	}
	shopSync, err := syncDevice(ctx, shopAPI, shop)
	if err != nil {
		return fmt.Errorf("the shop's sync: %w", err)
	}
	phoneSync, err := syncDevice(ctx, holderAPI, phone)
	if err != nil {
		return fmt.Errorf("the holder's sync: %w", err)
	}
	h := offline.HashOf(raw)
	outcome := func(s syncView) string {
		for _, r := range s.Results {
			if r.Hash == client.Hash(h) {
				return r.Result
			}
		}
		return "not uploaded"
	}
	fmt.Fprintf(d.out, "  offline: the holder's phone paid %s to the other operator's shop with no network (a %d-byte signed token);\n",
		demoOfflinePay, len(raw))
	fmt.Fprintf(d.out, "  the shop's sync: %s; the phone's sync of the same token: %s; the phone's purse holds %s\n",
		outcome(shopSync), outcome(phoneSync), phone.Status().Balance)
	return nil
}

// device opens the demo device in dir, making and certifying it for
// wallet if it is not there yet.
func (d *demo) device(api *client.Client, dir string, wallet tongbao.ID) (*offline.Element, error) {
	el, err := offline.OpenDevice(dir, nil)
	if errors.Is(err, offline.ErrNoDevice) {
		if el, err = offline.InitDevice(dir, nil); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	// Certify every start: a renewal is harmless, and a demo folder of
	// an earlier version may hold a device certified by no one.
	dev, err := api.CertifyDevice(d.ctx, el.ID(), wallet, el.PublicKey())
	if err != nil {
		return nil, err
	}
	if err := el.Install(dev.Certificate, pinnedKeys(dev.OperatorKeys), dev.RevocationLists); err != nil {
		return nil, err
	}
	return el, nil
}

// offlineSteps prints how to pay offline from the CLI.
func (d *demo) offlineSteps(data string) {
	a, b := d.keys.Operators[0], d.keys.Operators[1]
	phone, shop := filepath.Join(data, demoHolderDevice), filepath.Join(data, demoShopDevice)
	el, err := offline.OpenDevice(shop, nil)
	if err != nil {
		return
	}
	w := d.out
	fmt.Fprintf(w, "  # pay offline: the phone signs a token (QR image in %s), the shop checks it with no network, then both sync\n", filepath.Join(data, "offline.png"))
	fmt.Fprintf(w, "  token=$(go run ./cmd/tongbao device pay --device-dir %s --to %s --amount 5.00 --qr %s --field token)\n", phone, el.ID(), filepath.Join(data, "offline.png"))
	fmt.Fprintf(w, "  go run ./cmd/tongbao device receive --device-dir %s \"$token\"\n", shop)
	fmt.Fprintf(w, "  go run ./cmd/tongbao device sync --device-dir %s --key %s\n", shop, b.Merchant)
	fmt.Fprintf(w, "  go run ./cmd/tongbao device sync --device-dir %s --key %s\n", phone, a.Holder)
	fmt.Fprintf(w, "  go run ./cmd/tongbao device status --device-dir %s\n\n", phone)
}
