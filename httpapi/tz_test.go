package httpapi_test

import (
	"testing"
	"time"

	"github.com/tongbao/tongbao/client"
)

type clientT = client.Client

func shanghaiTZ(tb testing.TB) *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		tb.Fatal(err)
	}
	return loc
}
