// Turning a Scene into English: the intro (a synopsis-like paragraph describing the poster) and genre
// labels. Intros name the shape kind plus 1–3 of {shape colour, count, position, background}, with
// synonyms, several sentence patterns and content-free filler sentences, so that no fixed template or
// single keyword gives the poster away.
#pragma once

#include "io/synth/random.hpp"
#include "io/synth/scene.hpp"

#include <string>
#include <vector>

namespace clipmatch::synth {

std::string describe_scene(const Scene& scene, Rng& rng);

/// Genre labels that follow from the background (colour → one genre, style → possibly a second).
std::vector<std::string> scene_genres(const Scene& scene);

/// Every word an intro may use for `kind` (singular and plural), for tests.
std::vector<std::string> shape_words(ShapeKind kind);

}  // namespace clipmatch::synth
