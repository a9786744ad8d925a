# Rendered by the pipeline; re-render with: gnuplot uplift_curve_revenue.gp
set terminal pngcairo size 900,560 font "DejaVu Sans,10" noenhanced
set output "uplift_curve_revenue.png"
set encoding utf8
set linetype 1 lc rgb "#4C72B0"
set linetype 2 lc rgb "#DD8452"
set linetype 3 lc rgb "#55A868"
set linetype 4 lc rgb "#C44E52"
set linetype 5 lc rgb "#8172B3"
set linetype 6 lc rgb "#937860"
set title "Uplift curve on the held-out test split: Revenue (inverse-propensity weighted)"
set xlabel "share of customers targeted (ranked by predicted uplift)"
set ylabel "incremental Revenue per customer of the population"
set key bottom right
set grid
plot 'uplift_revenue.dat' using 1:2 with lines lw 2 lt 1 title "T-learner (baseline)", \
     'uplift_revenue.dat' using 1:3 with lines lw 2 lt 2 title "T-learner (tuned)", \
     'uplift_revenue.dat' using 1:4 with lines lw 2 lt 3 title "X-learner", \
     'uplift_revenue.dat' using 1:5 with lines lw 2 lt 4 title "DR-learner", \
     '' using 1:6 with lines lw 1 dt 2 lc rgb "#444444" title "random targeting"
unset output
