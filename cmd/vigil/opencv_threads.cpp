// cv::setNumThreads is not wrapped by gocv v0.32.0; `vigil bench` needs it to
// run OpenCV DNN on one thread, as the other single-thread engines are.
#include <opencv2/core.hpp>

extern "C" void vigil_cv_set_num_threads(int n) { cv::setNumThreads(n); }
extern "C" int vigil_cv_get_num_threads(void) { return cv::getNumThreads(); }
