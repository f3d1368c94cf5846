// Made-up movie titles. They are drawn independently of the scene and avoid the colour and shape
// vocabulary, so a title never hints at the poster.
#pragma once

#include "synth/random.hpp"

#include <string>

namespace clipmatch::synth {

std::string make_title(Rng& rng);

}  // namespace clipmatch::synth
