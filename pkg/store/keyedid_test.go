package store_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/store"
)

func TestKeyedID(t *testing.T) {
	space := uuid.MustParse("0b8f5c0e-3f7a-4d52-9a61-7c2e4d9b1a38")
	id := store.KeyedID(space, "svc", "key-1")
	require.Equal(t, id, store.KeyedID(space, "svc", "key-1"), "a retry with the same key finds the same id")
	require.Equal(t, uuid.NewSHA1(space, []byte("svc\x00key-1")).String(), id, "ids already stored stay derivable")
	require.NotEqual(t, id, store.KeyedID(space, "other", "key-1"), "keys are per caller")
	require.NotEqual(t, id, store.KeyedID(uuid.NameSpaceOID, "svc", "key-1"), "namespaces are per domain")
	require.NotEqual(t, store.KeyedID(space, "svc", ""), store.KeyedID(space, "svc", ""), "no key: random")
}
