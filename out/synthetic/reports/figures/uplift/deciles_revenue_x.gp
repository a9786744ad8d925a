# Rendered by the pipeline; re-render with: gnuplot deciles_revenue_x.gp
set terminal pngcairo size 900,560 font "DejaVu Sans,10" noenhanced
set output "deciles_revenue_x.png"
set encoding utf8
set linetype 1 lc rgb "#4C72B0"
set linetype 2 lc rgb "#DD8452"
set linetype 3 lc rgb "#55A868"
set linetype 4 lc rgb "#C44E52"
set linetype 5 lc rgb "#8172B3"
set linetype 6 lc rgb "#937860"
set title "X-learner: predicted vs observed uplift in Revenue by decile (test split)"
set xlabel "decile of predicted uplift (1 = highest)"
set ylabel "uplift in Revenue per customer"
set xrange [0.5:10.5]
set xtics 1
set key top right
set grid
set style fill solid 0.5
set boxwidth 0.4
plot 'deciles_revenue_x.dat' using ($1-0.2):2 with boxes lt 1 title "predicted (mean)", \
     '' using ($1+0.2):3:4:5 with yerrorbars lt 4 pt 7 lw 1.5 title "observed, 95% CI", \
     0 with lines lc rgb "#444444" notitle
unset output
