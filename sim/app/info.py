"""The app's Info panel: the model in plain words, for a class that has not read the ODD."""

INFO = """
### What you are looking at

A small, made-up Norway: about 3,800 firms in 2000 (2 % of the country's employer enterprises),
placed in the eleven counties and ten industries roughly as real firms are, and twelve real cluster
organisations of the **Norwegian Innovation Clusters** programme (run by Innovation Norway, Siva
and the Research Council of Norway). Each step is one year, from 2000 to 2030. Counts in the
plots are scaled up to the whole of Norway.

### What happens every year

1. **The programme** runs its clusters at four levels, from young to world-class: *Arena*,
   *Arena Pro*, *NCE* (Norwegian Centres of Expertise) and *GCE* (Global Centres of Expertise).
   Until 2021 they follow the real history; after that the programme holds calls, evaluates
   clusters and moves good ones up a level, within its budget.
2. **Firms decide whether to join** the cluster of their industry. They weigh what the cluster
   offers against the hours and fees it costs and how far away it is. Firms that expect to grow
   anyway join more often: remember this when you compare members with other firms.
3. **Firms find partners.** Most look close to home and among firms that know similar things;
   a cluster organisation also introduces its members to each other (*matchmaking*).
4. **Firms innovate** from their own research and from what their partners know that they do
   not. Partners' knowledge slowly becomes alike, so a new tie teaches most in its first years.
5. **Firms grow or shrink** with demand for their industry, their own prospects, their
   innovations, the markets their cluster opens, and luck.
6. **New firms start** (more of them where a cluster is active) and some firms close.

### Three worlds at once

The app runs three copies of the same economy with the same luck for every firm:
*this run* (your lesson and your sliders), a *twin* where members get none of the cluster's
services, and *the classroom scenario as shipped* (dashed lines, shown when your run differs
from it). Comparing a member with itself in the twin gives the **true effect** of membership;
comparing members with other firms gives the **raw gap** that a statistics office can see.

### The controls

Sliders take effect from the next simulated year, so you can change policy in the middle of a
run (a dotted line marks the moment). The cluster services' sliders are in percent of the
classroom scenario as shipped: 100 % is what it gives every cluster. The seed picks a different
but equally likely history; changing it, or the lesson, starts again. *Reset* starts again with
your sliders as they are.

The numbers are not forecasts: this small classroom economy shows how the mechanisms work.
For results, analysts run `python run.py run scenarios/baseline_2021.toml` at full scale.
"""
