"""`colorize-evaluate`: every model on one report (metrics with bootstrap intervals, baselines, plots).

    colorize-evaluate --data=photos/ --num_images=100 --num_samples=4 --output=eval/
    colorize-evaluate --weights=coltran:runs/a,runs/b --data=imagenet2012:validation --inception_weights=...

Parts: data (the photos), models (--weights -> rows), baselines (gray, global prior), sampling + cache
(samples per model and photo, reused by later runs), distribute (workers and replicas), scores (the
metrics and bootstrap), fid_net (the Inception network from a local file), report and plots; run ties
them together (`evaluate(Options(...))`).
"""
