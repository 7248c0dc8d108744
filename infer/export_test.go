package infer

// DetectDilation and PrepadDepthwise switch the int8 executor's
// dilated-kernel detection and depthwise pre-padding for the external
// tests.
var (
	DetectDilation  = &detectDilation
	PrepadDepthwise = &prepadDepthwise
)
