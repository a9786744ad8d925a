# Rendered by the pipeline; re-render with: gnuplot outcome_rates.gp
set terminal pngcairo size 1100,480 font "DejaVu Sans,10" noenhanced
set output "outcome_rates.png"
set encoding utf8
set linetype 1 lc rgb "#4C72B0"
set linetype 2 lc rgb "#DD8452"
set linetype 3 lc rgb "#55A868"
set linetype 4 lc rgb "#C44E52"
set linetype 5 lc rgb "#8172B3"
set linetype 6 lc rgb "#937860"
set multiplot layout 1,3 title "Outcomes per arm with 95% confidence intervals"
set style fill solid 0.7 border -1
set boxwidth 0.6
set xtics nomirror rotate by -20
set ytics nomirror
set grid ytics
set yrange [0:*]
set xrange [-0.6:2.6]
set title "Click rate (%)"
plot 'outcome_rates.dat' index 0 using 1:3:($1+1):xtic(2) with boxes lc variable notitle, \
     '' index 0 using 1:3:4:5 with yerrorbars lc rgb "black" pt 7 ps 0.5 notitle
set title "Purchase rate (%)"
plot 'outcome_rates.dat' index 1 using 1:3:($1+1):xtic(2) with boxes lc variable notitle, \
     '' index 1 using 1:3:4:5 with yerrorbars lc rgb "black" pt 7 ps 0.5 notitle
set title "Revenue per customer"
plot 'outcome_rates.dat' index 2 using 1:3:($1+1):xtic(2) with boxes lc variable notitle, \
     '' index 2 using 1:3:4:5 with yerrorbars lc rgb "black" pt 7 ps 0.5 notitle
unset multiplot
unset output
