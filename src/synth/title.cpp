#include "synth/title.hpp"

#include <vector>

namespace clipmatch::synth {

namespace {

const std::vector<std::string> kAdjectives = {"Silent", "Last", "Hidden", "Broken", "Distant", "Forgotten",
                                              "Endless", "Secret", "Wild", "Lost", "Quiet", "Burning",
                                              "Frozen", "Restless", "Electric", "Hollow"};
const std::vector<std::string> kNouns = {"Harbor", "Promise", "Kingdom", "Signal", "Summer", "Stranger",
                                         "Garden", "Frontier", "Shadow", "Letter", "Engine", "Orchard",
                                         "Mirror", "Voyage", "Carnival", "Lighthouse"};
const std::vector<std::string> kPlaces = {"Marrowdale", "the North", "Kessler Bay", "Old Town", "Ravenmoor",
                                          "the Valley", "Port Ellis", "Tamsin Creek", "the Border"};
const std::vector<std::string> kNames = {"Ada", "Milo", "Rosa", "Jonah", "Vera", "Felix", "Ines", "Otto",
                                         "Lena", "Hugo"};

}  // namespace

std::string make_title(Rng& rng) {
  switch (rng.below(6)) {
    case 0: {  // picks are separate statements: the operands of + are evaluated in unspecified order
      const std::string& adjective = rng.pick(kAdjectives);
      return "The " + adjective + " " + rng.pick(kNouns);
    }
    case 1: {
      const std::string& noun = rng.pick(kNouns);
      return noun + " of " + rng.pick(kPlaces);
    }
    case 2: {
      const std::string& name = rng.pick(kNames);
      return name + "'s " + rng.pick(kNouns);
    }
    case 3: return "Return to " + rng.pick(kPlaces);
    case 4: {
      const std::string& adjective = rng.pick(kAdjectives);
      return adjective + " " + rng.pick(kNouns) + "s";
    }
    default: {
      const std::string& noun = rng.pick(kNouns);
      return "The " + noun + " " + std::to_string(rng.between(2, 4));
    }
  }
}

}  // namespace clipmatch::synth
