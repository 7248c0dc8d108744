package infer

// DetectDilation switches the int8 executor's dilated-kernel detection for
// the external tests.
var DetectDilation = &detectDilation
