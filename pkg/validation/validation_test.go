package validation_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/validation"
)

func TestErrorListsEveryFieldAndIsFoundThroughWrapping(t *testing.T) {
	t.Parallel()
	err := fmt.Errorf("create payment: %w", &validation.Error{Subject: "payment request", Fields: []validation.Field{
		{Field: "phone", Message: "must be a Kenyan mobile number"}, {Field: "amount", Message: "must be 1 to 250000"},
	}})
	require.EqualError(t, err, "create payment: invalid payment request: phone: must be a Kenyan mobile number; amount: must be 1 to 250000")
	var ve *validation.Error
	require.True(t, errors.As(err, &ve))
	require.Len(t, ve.Fields, 2)
	require.Equal(t, "invalid input: x: bad", (&validation.Error{Fields: []validation.Field{{Field: "x", Message: "bad"}}}).Error())
}
